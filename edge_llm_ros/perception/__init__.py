"""Perception core (no ROS inside): point cloud decoding, the lidar detector, file formats.

- `pointcloud`: `sensor_msgs/PointCloud2` payload <-> (N, 4) x, y, z, intensity.
- `lidar`: ground removal, voxel downsampling, clustering, oriented boxes and a
  class guess per object, with per-stage timing; `transform_objects` to move
  results into another (z-up) frame.
- `kitti`: KITTI scans and calibration, PCD files, lidar-to-image projection.
- `synthetic`: seeded ray-cast sweeps with ground truth, for tests and `bench`.
- `bench`: `benchmark_lidar`, behind `edge-llm-ros bench perception`.

`edge_llm_ros.nodes` converts messages and calls these; nothing here imports rclpy.
"""

from edge_llm_ros.perception.kitti import (
    KittiCalib,
    KittiFormatError,
    PcdFormatError,
    parse_kitti_calib,
    project_velo_to_image,
    read_kitti_bin,
    read_pcd,
)
from edge_llm_ros.perception.lidar import (
    CLASS_NAMES,
    DEFAULT_CLASS_PRIORS,
    ClassPrior,
    GroundEstimate,
    LidarDetections,
    LidarDetector,
    LidarDetectorConfig,
    classify_sizes,
    transform_objects,
)
from edge_llm_ros.perception.pointcloud import (
    INTENSITY_ALIASES,
    DecodedCloud,
    FieldSpec,
    PointCloudError,
    decode_xyzi,
    encode_xyzi,
)

__all__ = [
    "CLASS_NAMES",
    "DEFAULT_CLASS_PRIORS",
    "INTENSITY_ALIASES",
    "ClassPrior",
    "DecodedCloud",
    "FieldSpec",
    "GroundEstimate",
    "KittiCalib",
    "KittiFormatError",
    "LidarDetections",
    "LidarDetector",
    "LidarDetectorConfig",
    "PcdFormatError",
    "PointCloudError",
    "classify_sizes",
    "decode_xyzi",
    "encode_xyzi",
    "parse_kitti_calib",
    "project_velo_to_image",
    "read_kitti_bin",
    "read_pcd",
    "transform_objects",
]

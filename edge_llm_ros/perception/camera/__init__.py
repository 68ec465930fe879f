"""Camera detection core (no ROS inside): YOLO via Ultralytics on PyTorch, ONNX Runtime or TensorRT.

- `detector`: `CameraDetector` (the model file picks the runtime) and
  `image_from_msg_bytes` (sensor_msgs/Image payload to an array, no cv_bridge).
- `coco`: a COCO-trained model's classes onto this package's (riders merged into cyclists).
- `model_source`: which file a `model_path` names; Ultralytics' published weights fetched.
- `dataset`: labelled frames from the built-in simulator (YOLO datasets, held-out eval).
- `train`: `train_detector`, which produced the shipped `models/sim_detector.*`.
- `engine`: TensorRT engine build and cache.
- `bench`: `benchmark_camera`: wrapper overhead and held-out accuracy.

Only `detector` is imported here, and it imports Ultralytics lazily, so this
package stays cheap to import for code that only converts images.
"""

from edge_llm_ros.perception.camera.detector import (
    CameraDetections,
    CameraDetector,
    ImageEncodingError,
    ImageError,
    ModelLoadError,
    image_from_msg_bytes,
)

__all__ = [
    "CameraDetections",
    "CameraDetector",
    "ImageEncodingError",
    "ImageError",
    "ModelLoadError",
    "image_from_msg_bytes",
]

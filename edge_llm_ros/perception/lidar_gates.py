"""Shipped weights of the lidar road-user gate (written by
edge_llm_ros/tools/training/lidar_gate.py; do not edit by hand).

kitti_hdl64: KITTI's HDL-64E, fitted on the 11 labelled frames 000000-000010 (L2 5.0).
"""

GATES: dict[str, dict[str, tuple[float, ...]]] = {
    'kitti_hdl64': {
        'gate_weights': (
            -0.16634, -0.531, -0.71409, 0.22156, -0.7406, -0.22436,
            0.03401, 0.09073, -0.43148, 0.9534, 0.29056, 0.41744,
            0.30848, 0.85557, -0.18696, -1.46262,
        ),
        'gate_mean': (
            4.4413, 32.0379, 2.99664, 1.28103, 1.89954, 0.8022,
            0.69806, 0.43409, 0.16515, 0.12175, 0.628, 0.97484,
            9.22996, 0.58762, 0.48499,
        ),
        'gate_scale': (
            1.49627, 18.22498, 2.59462, 1.14366, 0.77055, 0.23924,
            0.30331, 0.50228, 0.12402, 0.07769, 0.43391, 0.1566,
            0.72551, 0.41409, 0.25879,
        ),
    },
}

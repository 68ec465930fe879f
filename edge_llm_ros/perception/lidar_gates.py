"""Shipped weights of the lidar road-user gate (written by
edge_llm_ros/tools/training/lidar_gate.py; do not edit by hand).

kitti_hdl64: KITTI's HDL-64E, fitted on the 11 labelled frames 000000-000010 (L2 5.0).
"""

GATES: dict[str, dict[str, tuple[float, ...]]] = {
    'kitti_hdl64': {
        'gate_weights': (
            -0.14562, -0.56295, -0.72173, 0.16009, -0.78212, -0.22978,
            -0.07314, 0.0554, -0.66545, 0.85232, 0.21929, 0.31554,
            0.3798, 0.61751, -0.28349, -1.24053,
        ),
        'gate_mean': (
            4.4407, 31.49379, 2.95016, 1.26252, 1.9036, 0.80185,
            0.7055, 0.44343, 0.17689, 0.12847, 0.66056, 0.97792,
            9.2229, 0.52858, 0.4922,
        ),
        'gate_scale': (
            1.49885, 18.05761, 2.62337, 1.15163, 0.77304, 0.24057,
            0.30459, 0.50613, 0.14772, 0.08738, 0.42363, 0.14695,
            0.74772, 0.42248, 0.25972,
        ),
    },
}

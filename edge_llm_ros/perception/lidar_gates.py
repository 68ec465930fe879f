"""Shipped weights of the lidar road-user gate (written by
edge_llm_ros/tools/training/lidar_gate.py; do not edit by hand).

kitti_hdl64: KITTI's HDL-64E, fitted on the 11 labelled frames 000000-000010 (L2 5.0).
"""

GATES: dict[str, dict[str, tuple[float, ...]]] = {
    'kitti_hdl64': {
        'gate_weights': (
            -0.14546, -0.57437, -0.70019, 0.14295, -0.80292, -0.22055,
            -0.06127, 0.05436, -0.65315, 0.84038, 0.22367, 0.3149,
            0.35199, 0.59355, -0.31206, -1.26728,
        ),
        'gate_mean': (
            4.43591, 31.83453, 2.98568, 1.25438, 1.92237, 0.8049,
            0.70779, 0.45227, 0.17629, 0.12818, 0.65007, 0.97799,
            9.22874, 0.53946, 0.49675,
        ),
        'gate_scale': (
            1.49578, 18.05686, 2.66698, 1.15419, 0.76889, 0.24062,
            0.30539, 0.51145, 0.14784, 0.08749, 0.42695, 0.14672,
            0.7458, 0.42183, 0.25929,
        ),
    },
}

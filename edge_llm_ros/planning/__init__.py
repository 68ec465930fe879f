"""Rollout planning: predict, simulate each candidate action, score, pick (no rclpy here)."""

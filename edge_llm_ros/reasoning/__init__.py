"""Onboard reasoning: scene -> Decision within a deadline (no rclpy here)."""

"""Importers: public data sets to rosbag2 bags the pipeline replays (`edge-llm-ros import`)."""

"""What one run needs around the task function: its folder's rules, its lock, its stops."""

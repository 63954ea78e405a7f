"""The Hydra application above the task: the job every run and sweep job goes through, and the callbacks that
guard its folder before Hydra writes into it. Nothing below task.py imports from here."""

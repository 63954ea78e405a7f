"""Running many jobs: the job wrapper, resume, the local process launcher, SLURM data parallel, summary and report."""

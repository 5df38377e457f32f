"""The job queue: jobs of opcodes, persisted one file per job."""

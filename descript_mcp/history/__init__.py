"""The job history: every job the server starts or sees, and every submission, kept past
Descript's 30 days and a restart."""

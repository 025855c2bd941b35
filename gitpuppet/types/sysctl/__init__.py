"""`sysctl`: a kernel parameter's live value (/proc/sys) and its persistent file."""

"""Import from kernel sources: syscall.tbl rows, SYSCALL_DEFINE signatures, and the
tables they become (`stubgen tables import`)."""

"""What combines the stages: verifying a generated directory (generate --verify, verify
DIR), parallel runs whose workers render their own chunks, the mutator over generated
stubs, and coverage."""

"""Reader studies: a blinded page for human experts, and their answers scored like a model."""

"""pynn.training: the batch loop behind fit / evaluate, and the progress bar."""

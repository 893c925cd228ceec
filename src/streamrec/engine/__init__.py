"""The engine composes log, catalogue and models; one learner thread writes model state."""

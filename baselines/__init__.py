"""reasonvos.baselines: LISA, XMem, LISA+XMem and weight-free reference baselines."""

"""reasonvos.evaluators: J, F, J&F, DAVIS statistics, gIoU/cIoU, protocols, scorer, results."""

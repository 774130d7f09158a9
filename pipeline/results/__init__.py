"""Results: evaluate, predict, plot and summarise what a run learned."""

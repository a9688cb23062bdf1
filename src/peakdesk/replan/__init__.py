"""The peak-day re-plan: the day so far from the live export, and what it says of the rest."""

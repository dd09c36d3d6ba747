"""ADaM derivations from SDTM (analysis-ready parameters such as RECIST 1.1 responses)."""

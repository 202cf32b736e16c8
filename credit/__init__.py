"""Credit subjects (信用主体): registry, records, ratings, grades, lists, complaints, fund.

See docs/credit.md.  Importing ``credit.models`` registers the replay projections.
"""

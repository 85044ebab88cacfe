"""Applications: loan applications, agreements and loans."""

"""Projects: lending projects, terms and eligibility criteria."""

"""Router: plans each case as a DAG of sub-approvals and drives it to its end (并联审批)."""

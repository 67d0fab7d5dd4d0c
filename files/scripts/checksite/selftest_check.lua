-- A check used only to test harness.lua's Gluon semantics (cases.lua).
need_value(in_site({'only_site'}), 1, false)
need_number(in_site({'only_site'}))
-- arrays merge element by element: domain {9} over site {1, 2, 3}
need_value({'arr', 1}, 9)
need_value({'arr', 3}, 3)
-- tables merge key by key
need_value({'tbl', 'x'}, 1)
need_value({'tbl', 'y'}, 5)
need_value({'default_domain'}, 'a')
need_value({'domain_code_seen'}, nil, false)
need(in_domain({'empty'}), function() return this_domain() == 'a' end, true, 'be checked for domain a')

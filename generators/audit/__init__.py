"""``mechproof audit``: the soundness audit as a product (DESIGN.md §7).

Untrusted, like everything in ``generators/``; ``checker/`` never imports it.  Modules:

* :mod:`.reference` -- the independent ground truth (own reader, exact/arb forward pass);
* :mod:`.families` -- named families of tiny models;
* :mod:`.checkers` -- the checker under audit, run with time and memory limits;
* :mod:`.container` / :mod:`.mutants` -- generic certificate mutation;
* :mod:`.hostile` -- the robustness corpus;
* :mod:`.selftest` -- deliberately broken checkers the audit must catch;
* :mod:`.runner` -- phases, budget, findings; :mod:`.report` -- table, JSON, JUnit.
"""

"""The check service: instant feedback without the answer key in the
student's kernel.

``check("A3.q2")`` in :mod:`autograder.notebook` judges in the student's own
process when ``course.yaml`` says ``checks: local`` (the default: self-study,
instructors).  With ``checks: https://…`` it sends the question's answers —
plain data in the :mod:`autograder.protocol` wire form, see :mod:`.codec` —
to ``nngrade serve``, which holds the course, judges one question for one
student and answers with the same part results ``check()`` shows locally.

HTTP API (JSON; every request but ``health`` carries
``Authorization: token <TOKEN>``)::

    GET  <prefix>v1/health                 -> {"ok": true}
    GET  <prefix>v1/assignments/<A>        -> {"student", "assignment", "params",
                                               "answers": {q: {part: {"var", "kind"}}},
                                               "functions": {q: [names]}}
    POST <prefix>v1/check  {"assignment", "question", "answers", "cells"?}
                                           -> {"student", "question", "points",
                                               "results": [QuestionResult.to_dict()],
                                               "past_due": bool,
                                               "reveal": {part: {...}}}

The student is whoever the token belongs to (:mod:`.auth`): a JupyterHub
API token (the service runs as a hub service) or a per-student token from
``nngrade tokens``; a request never names its student, so nobody can ask
about another's variant.  Function parts arrive as the source of the
student's executed cells and run in the grading sandbox
(:func:`autograder.sandbox.run_submission`) on the *public* seed's inputs,
as the local check does.

What may be shown when (:mod:`.reveal`): a ``reveal`` entry is returned for
a part judged fully correct, and for every part once the student's due date
(with their extension) has passed.  Abuse (:mod:`.limits`): per-student rate
limits and one request in flight per student, a cap on the body size and
on the CPU of a function check (its own worker pool, so numeric checks
never wait behind it); every refusal is an HTTP 4xx with a bilingual
message.
"""

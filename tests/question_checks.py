"""The checks every question module's test file (tests/questions/) runs on
its own questions: the lecture's numbers are accepted, the references of every
variant earn full marks, every catalogued mistake is named, and the function
parts pass with a correct implementation and fail with a typical wrong one.

Each check is a plain function; ``tests/questions/test_aN.py`` calls it with
its assignment's questions, so that the tests of one question module live in
one file.  The expected values are typed from the lecture (``LECTURE_ANSWERS``,
from docs/exercises.md) or computed by the student-style implementations of
question_impls.py, never by the question modules under test.
"""
import numpy as np
import pytest
import sympy as sp

from autograder.config import load_course
from autograder.functions import InProcessRunner, judge_function
from autograder.judge import grade_question, grade_submission, judge_part, policy_for, variant_of
from autograder.mistakes import mistake as catalogued
from autograder.protocol import from_wire, to_wire
from autograder.questions import QUESTIONS, get_question, questions_of
from autograder.questions.a8 import judge_checked
from autograder.questions.base import Policy
from autograder.results import AssignmentResult
from autograder.variants import variant_params
from question_impls import CORRECT, NN_CORE, NUMPY, WRONG

POLICY = Policy(rtol=1e-4, atol=1e-6, atol_scale=1e-6, shape_credit=0.5, ecf="full")
STATISTICAL = Policy(rtol=0.25, atol=1e-6, atol_scale=1e-6, shape_credit=0.5, ecf="full")          # course.yaml's "statistical" profile


def grade_assignment(assignment: str, answers: dict, params: dict, policy: Policy
                     ) -> AssignmentResult:
    """Every question of ``assignment`` judged as ``grade_submission`` judges
    them (:func:`~autograder.judge.grade_question`, in order), with the
    ``policy`` given here instead of course.yaml's and 1 point per part."""
    result = AssignmentResult(assignment=assignment, student="")
    for q in questions_of(assignment):
        for r in grade_question(q, answers, params, policy, {}):
            result.add(r)
    return result


# The catalogue's numbers (docs/exercises.md, from the lecture slides).
LECTURE_ANSWERS = {
    "A1": {"q2": {"q": 3, "f": -12, "dfdx": -4, "dfdy": -4, "dfdz": 3},
           "q3": {"u": 6, "v": 11, "J": 33, "dJda": 3, "dJdb": 6, "dJdc": 9, "J_fd": 33.006},
           "q5": {"dfdw": 0.25, "dfdb": 0.25}},
    "A3": {"q1": {"z1": [0.6, -0.8], "h": [0.645656, 0.310026], "y": [0.0241185]},
           "q2": {"dW2": [[-0.178125, -0.085530]], "db2": [-0.275882],
                  "dW1": [[-0.006312, 0.018935], [0.014753, -0.044260]],
                  "db1": [-0.012623, 0.029507]}},
    "A4": {"q1": {"z1": [0.24, -0.14], "y_hat": [0.344], "L": 0.215168},
           "q2": {"dW2": [[-0.15744, 0]], "db2": [-0.656],
                  "dW1": [[-0.07872, -0.11808], [0, 0]], "db1": [-0.3936, 0]},
           "q3": {"y_hat_new": [1.374671], "L_new": 0.070189, "decreased": "yes"}},
}


def references(assignment, params):
    return {q.local_id: dict(q.reference(params)) for q in questions_of(assignment)}


def is_fn(result):
    return get_question(result.question).part(result.part).kind == "fn"


def mistake_cases(assignment):
    """``(question id, mistake id)`` of every catalogued mistake of ``assignment``."""
    return [(q.id, m.id) for q in QUESTIONS.values() if q.assignment == assignment
            for m in q.mistakes]


# ---------------------------------------------------------------------------------------
# through grade_assignment: lecture numbers, references, catalogued mistakes


def check_lecture_numbers_are_accepted(assignment):
    answers = LECTURE_ANSWERS[assignment]
    result = grade_assignment(assignment, answers, variant_params(assignment), POLICY)
    for r in result.questions:
        if r.part in answers.get(r.question.split(".")[1], {}):
            assert r.status == "correct", (r.label, r.feedback_text("en"))


def check_reference_answers_earn_full_marks_and_no_diagnosis(assignment, student):
    params = variant_params(assignment, student)
    result = grade_assignment(assignment, references(assignment, params), params, POLICY)
    judged = [r for r in result.questions if not is_fn(r)]
    assert judged and all(r.score == r.max_score for r in judged)
    assert all(r.diagnosis is None and not r.carried_forward for r in judged)


def check_references_equal_the_oracle(assignment, student, oracle):
    """Every reference of ``assignment``'s questions for ``student``'s
    variant equals ``oracle(params)`` (``{"q1": {part: value}, …}``, computed
    outside the question modules) to float64 rounding."""
    p = variant_params(assignment, student)
    mine = oracle(p)
    for q in questions_of(assignment):
        ref = q.reference(p)
        for part, value in mine[q.local_id].items():
            np.testing.assert_allclose(np.asarray(ref[part], dtype=float), value,
                                       rtol=1e-12, atol=1e-15, err_msg=part)


def check_every_catalogued_mistake_is_diagnosed(qid, mistake_id, student):
    q = get_question(qid)
    params = variant_params(q.assignment, student)
    mistake = next(m for m in q.mistakes if m.id == mistake_id)
    wrong = mistake.make(params)
    answers = references(q.assignment, params)
    answers[q.local_id].update(wrong)
    result = grade_assignment(q.assignment, answers, params, POLICY)
    mine = result.results_for(qid)
    hit = [r for r in mine if r.part in wrong and r.diagnosis == mistake_id]
    assert hit, [(r.part, r.status, r.diagnosis) for r in mine]
    for r in hit:
        assert r.score < r.max_score
        text = r.feedback_text("zh+en")
        assert mistake.text.zh in text and mistake.text.en in text


# ---------------------------------------------------------------------------------------
# one question alone (grade_question): references and mistakes of its non-function parts


def question_policy(q):
    return STATISTICAL if q.id == "A8.q7" else POLICY


def judged_questions(module):
    """The questions of ``module`` with a part that is not a function."""
    return [q for q in module.QUESTIONS if any(p.kind != "fn" for p in q.parts)]


def question_mistake_cases(module):
    return [pytest.param(q, m, id=f"{q.id}:{m.id}") for q in judged_questions(module)
            for m in q.mistakes]


def _answers(q, params):
    return {q.local_id: {k: v for k, v in q.reference(params).items()
                         if q.part(k).kind != "fn"}}


def _non_fn(results, q):
    return [r for r in results if q.part(r.part).kind != "fn"]


def check_references_earn_full_marks_and_no_diagnosis(q, student):
    params = variant_params(q.assignment, student)
    results = _non_fn(grade_question(q, _answers(q, params), params, question_policy(q), {}), q)
    assert results
    for r in results:
        assert r.score == r.max_score, (r.label, r.feedback_text("en"))
        assert r.diagnosis is None and not r.carried_forward


def check_catalogued_mistake_of_the_question_is_diagnosed(q, mistake):
    params = variant_params(q.assignment, None)
    wrong = mistake.make(params)
    answers = _answers(q, params)
    answers[q.local_id].update(wrong)
    results = _non_fn(grade_question(q, answers, params, question_policy(q), {}), q)
    hit = [r for r in results if r.part in wrong and r.diagnosis == mistake.id]
    assert hit, [(r.part, r.status, r.diagnosis) for r in results]
    for r in results:
        if r.part in wrong:
            assert r.score < r.max_score, r.label
    for r in hit:
        text = r.feedback_text("zh+en")
        assert mistake.text.zh in text and mistake.text.en in text


# ---------------------------------------------------------------------------------------
# function parts (A1.q6, A5, A7, A8, A9): hidden inputs, CORRECT and WRONG


def fn_parts(module):
    return [pytest.param(q, p, id=f"{q.id}/{p.name}") for q in module.QUESTIONS
            for p in q.parts if p.kind == "fn"]


def judge(spec, namespace, seed=0):
    return judge_checked(spec, np.random.default_rng(seed), InProcessRunner(namespace))


def check_correct_implementation_passes_every_hidden_check(part):
    for seed in (0, 1):
        v = judge(part.fn, CORRECT, seed)
        assert (v.passed, v.total) == (v.total, v.total) and v.total >= 1, \
            [m.en for m in v.messages]
        if part.fn.name == "digits_predict":
            break                                            # one training run is enough


def check_typical_wrong_implementation_fails_with_a_message(part):
    name = part.fn.name
    namespace = {**CORRECT, name: WRONG[name]}
    v = judge(part.fn, namespace)
    assert v.passed < v.total and v.messages, (part.name, v.passed, v.total)
    text = " ".join(m.en for m in v.messages)
    assert name in text and text.strip()


# ---------------------------------------------------------------------------------------
# through grade_submission with course.yaml (A1.q1, A2, A6): references sent as SymPy
# objects or as the text that crosses from the notebook, formula parts' tables

COURSE = load_course("course.yaml")
STUDENTS = [None, "alice", "bob", "s042"]


def wire_references(assignment, params, wire=False):
    out = {}
    for q in questions_of(assignment):
        ref = {k: v for k, v in q.reference(params).items() if q.part(k).kind != "fn"}
        if wire:                                   # what crosses from the notebook: sstr text
            ref = {k: from_wire(to_wire(v, q.part(k).kind)) for k, v in ref.items()}
        out[q.local_id] = ref
    return out


def check_reference_answers_earn_full_marks_through_the_course(assignment, student, wire):
    params, _ = variant_of(COURSE, assignment, student)
    for namespace in (NN_CORE, NUMPY):
        result = grade_submission(COURSE, assignment, wire_references(assignment, params, wire),
                                  student, InProcessRunner(namespace))
        assert result.questions
        for r in result.questions:
            assert r.score == pytest.approx(r.max_score), (r.label, r.feedback_text("en"))
            assert r.diagnosis is None and r.status == "correct"
        assert result.max_score == pytest.approx(COURSE.max_score(assignment))
        if wire:
            break                                   # functions do not cross as text


nx, ny = sp.symbols("x y")
GOOD = {
    ("A1.q1", "dzdx"): ["2xy^2 + 2x/y^2", "2x(y^2 + y^-2)", "2x(y^4+1)/y^2", "2*x*y**2 + 2*x*y**(-2)",
                        "2(xy)y + 2(x/y)(1/y)", "2x y² + 2x/y²", 2 * nx * ny**2 + 2 * nx / ny**2],
    ("A1.q1", "dzdy"): ["2x^2y - 2x^2/y^3", "2x^2(y^4-1)/y^3", "2(xy)x + 2(x/y)(-x/y^2)",
                        "2x²(y − y⁻³)", sp.diff((nx * ny)**2 + (nx / ny)**2, ny)],
    ("A2.q1", "dsigmoid"): ["σ(x)(1−σ(x))", "e^{-x}/(1+e^{-x})^2", "exp(x)/(1+exp(x))^2",
                            "sigmoid(x)sigmoid(-x)", "1/(2+2cosh(x))", "sech(x/2)^2/4",
                            "sigma(x) - sigma(x)^2"],
    ("A2.q1", "d2sigmoid"): ["σ(x)(1-σ(x))(1-2σ(x))", "σ(x) - 3σ(x)^2 + 2σ(x)^3",
                             "e^(-x)(e^(-x)-1)/(1+e^(-x))^3", "-sinh(x/2)/(4cosh(x/2)^3)",
                             "-tanh(x/2) sigmoid(x)(1-sigmoid(x))"],
    ("A2.q2", "tanh"): ["1-tanh(x)^2", "sech(x)^2", "1/cosh(x)^2", "4/(e^x+e^-x)^2",
                        "(1-tanh(x))(1+tanh(x))", "4e^(2x)/(e^(2x)+1)^2", "4σ(2x)(1-σ(2x))"],
    ("A2.q2", "relu"): ["heaviside(x)", "step(x)", "where(x > 0, 1, 0)", "Heaviside(x)",
                        "Piecewise((1, x > 0), (0, True))", "(sign(x)+1)/2", "max(0, sign(x))"],
    ("A2.q2", "relu_at_0"): [0, 0.0, np.float64(0.0), sp.Integer(0)],     # a number part
    ("A2.q2", "leaky_relu"): ["where(x > 0, 1, gamma)", "heaviside(x) + γ heaviside(-x)",
                              "(1-γ)step(x) + γ", "Piecewise((1, x > 0), (gamma, True))",
                              "leaky_relu(x, γ)/x", "where(x <= 0, γ, 1)"],
    ("A2.q2", "elu"): ["where(x > 0, 1, γ e^x)", "heaviside(x) + gamma exp(x) heaviside(-x)",
                       "where(x > 0, 1, elu(x, γ) + γ)", "Piecewise((1, x > 0), (gamma*exp(x), True))"],
    ("A2.q2", "softplus"): ["σ(x)", "1/(1+e^-x)", "e^x/(1+e^x)", "1 - sigmoid(-x)", "sigmoid(x)"],
    ("A2.q2", "prelu"): ["min(0, x)", "x heaviside(-x)", "x - relu(x)", "(x - abs(x))/2",
                         "Min(0, x)", "where(x > 0, 0, x)", "Piecewise((0, x > 0), (x, True))"],
    ("A2.q3", "grad"): ["delta(i,j) - softmax_j", "δ(i,j) − s_j", "KroneckerDelta(i, j) - softmax_j",
                        "-softmax_j + delta(j, i)", "delta(i, j)(1 - s_j) - (1 - delta(i, j)) s_j"],
    ("A2.q4", "softmax_ce"): ["yhat_j - y_j", "ŷ - y", "ŷ_j − y_j", "s_j - y_j", "softmax_j - y_j",
                              "-(y_j - yhat_j)"],
    ("A2.q4", "sigmoid_bce"): ["a - y", "sigmoid(z) - y", "1/(1+e^-z) - y",
                               "-(y(1-σ(z)) - (1-y)σ(z))", "a(1-a)·(a-y)/(a(1-a))"],
}


BAD = {   # (answer, the mistake it is named as, or None)
    ("A1.q1", "dzdx"): [("2xy + 2x/y", "chain_rule_missing_inner"), ("2xy^2", "chain_rule_missing_path"),
                        ("2xy^2 - 2x/y^2", None), ("xy^2 + x/y^2", None)],
    ("A1.q1", "dzdy"): [("2x^2y + 2x^2/y^3", "quotient_rule_sign"), ("2x^2y", "chain_rule_missing_path"),
                        ("2xy + 2x/y", "chain_rule_missing_inner"), ("x^2y - x^2/y^3", None)],
    ("A2.q1", "dsigmoid"): [("sigmoid(x)", "function_for_derivative"),
                            ("-e^(-x)/(1+e^(-x))^2", "chain_rule_missing_inner"), ("σ(x)^2", None)],
    ("A2.q1", "d2sigmoid"): [("1 - 2σ(x)", "chain_rule_missing_inner"),
                             ("σ(x)(1-σ(x))(1+2σ(x))", None), ("σ(x)(1-σ(x))", None)],
    ("A2.q2", "tanh"): [("1+tanh(x)^2", None), ("tanh(x)^2", None), ("sech(x)", None),
                        ("1 - tanh(x)", None)],
    ("A2.q2", "relu"): [("1", "relu_derivative_when_off"), ("relu(x)", "function_for_relu_derivative"),
                        ("max(0, x)", "function_for_relu_derivative"), ("heaviside(-x)", None)],
    ("A2.q2", "relu_at_0"): [(1, "relu_derivative_when_off"), (1.0, "relu_derivative_when_off"),
                             (0.5, None)],
    ("A2.q2", "leaky_relu"): [("heaviside(x)", "negative_branch_derivative"), ("gamma", None),
                              ("where(x > 0, gamma, 1)", None),
                              ("where(x > 0, 1, gamma*x)", "negative_branch_derivative")],
    ("A2.q2", "elu"): [("where(x > 0, 1, γ(e^x - 1))", "negative_branch_derivative"),
                       ("where(x > 0, 1, gamma)", None), ("heaviside(x)", None)],
    ("A2.q2", "softplus"): [("1/(1+e^x)", "chain_rule_missing_inner"), ("log(1+e^x)", None),
                            ("e^x", None)],
    ("A2.q2", "prelu"): [("where(x > 0, 1, γ_i)", "wrong_variable"), ("x", None), ("max(0, x)", None)],
    ("A2.q3", "grad"): [("-softmax_j", "log_softmax_missing_delta"),
                        ("1 - softmax_j", "log_softmax_missing_delta"), ("delta(i,j) + softmax_j", None),
                        ("softmax_j - delta(i,j)", None), ("delta(i,j)(1-softmax_j)", None)],
    ("A2.q4", "softmax_ce"): [("y_j - yhat_j", "output_gradient_sign"), ("yhat_j", None),
                              ("yhat_j(1-yhat_j) - y_j", None)],
    ("A2.q4", "sigmoid_bce"): [("y - a", "output_gradient_sign"),
                               ("(a-y)/(a(1-a))", "bce_gradient_at_output"), ("a", None),
                               ("a(1-a) - y", None)],
}


def _judge(qid, part, answer):
    q = get_question(qid)
    params, _ = variant_of(COURSE, q.assignment, None)
    ref = q.reference(params)
    return judge_part(q, part, answer, params, policy_for(COURSE, qid, part),
                      COURSE.points(qid, part), ref, None)


def formula_cases(assignment, table):
    """The rows of ``GOOD`` or ``BAD`` for ``assignment``'s questions, as parameters."""
    return [(q, p, *row) if isinstance(row, tuple) else (q, p, row)
            for (q, p), rows in table.items() if q.startswith(assignment + ".") for row in rows]


def check_equal_form_is_accepted(qid, part, answer):
    r = _judge(qid, part, answer)
    assert r.status == "correct" and r.score == r.max_score, r.feedback_text("en")
    assert r.diagnosis is None


def check_wrong_form_is_rejected_and_a_catalogued_one_named(qid, part, answer, mistake):
    r = _judge(qid, part, answer)
    assert r.status == "wrong" and r.score == 0, r.feedback_text("en")
    assert r.diagnosis == mistake
    if mistake:
        text = r.feedback_text("zh+en")
        assert catalogued(mistake).text.zh in text and catalogued(mistake).text.en in text


def _fn(spec, namespace, seed=0):
    return judge_function(spec, np.random.default_rng(seed), InProcessRunner(namespace))


def check_function_part_passes_with_nn_core_and_numpy(spec):
    for namespace in (NN_CORE, NUMPY):
        for seed in (0, 1):
            v = _fn(spec, namespace, seed)
            assert v.passed == v.total >= 4 and v.diagnosis is None, [m.en for m in v.messages]
    shapes = {tuple(np.shape(a) for a in case) for case in spec.cases(np.random.default_rng(0))}
    assert len(shapes) >= 2


# ---------------------------------------------------------------------------------------
# catalogued mistakes of function parts (FnSpec.mistakes): a function made with the
# mistake is named, a correct one never is, one a student writes with it is named

STUDENT = {**CORRECT, **NUMPY}                     # correct functions of every assignment


def judge_function_part(spec, namespace, seed=0):
    return judge_function(spec, np.random.default_rng(seed), InProcessRunner(namespace))


def fn_specs_with_mistakes(assignment):
    """``{(question id, part): FnSpec}`` of ``assignment``'s function parts with mistakes."""
    seen = {}
    for q in QUESTIONS.values():
        if q.assignment != assignment:
            continue
        for p in q.parts:
            if p.kind == "fn" and p.fn.mistakes:
                seen[(q.id, p.name)] = p.fn
    return seen


def fn_mistake_cases(assignment):
    specs = fn_specs_with_mistakes(assignment)
    return [pytest.param(spec, k, id=f"{qid}/{part}:{spec.mistakes[k].id}#{k}")
            for (qid, part), spec in specs.items() for k in range(len(spec.mistakes))]


def check_function_made_with_the_mistake_is_diagnosed_as_it(spec, k):
    mistake_id, wrong = spec.mistakes[k].id, spec.mistakes[k].fn
    for seed in (0, 1):
        v = judge_function_part(spec, {**STUDENT, spec.name: wrong}, seed)
        assert v.passed < v.total, (spec.name, mistake_id)
        assert v.diagnosis == mistake_id, (spec.name, v.diagnosis, [m.en for m in v.messages])


def check_correct_function_is_never_diagnosed(spec):
    for seed in (0, 1, 2):
        v = judge_function_part(spec, STUDENT, seed)
        assert v.passed == v.total and v.diagnosis is None, [m.en for m in v.messages]


def student_mistake_ids(rows):
    return [f"{s.name}:{m}" for s, _, m in rows]


def check_student_written_mistake_is_named(spec, fn, mistake):
    v = judge_function_part(spec, {**STUDENT, spec.name: fn})
    assert v.passed < v.total and v.diagnosis == mistake, (v.diagnosis, [m.en for m in v.messages])


# ---------------------------------------------------------------------------------------
# the standard tests, made for a question module's file


def standard_tests(assignment: str, module=None, *, references: bool = True,
                   mistakes: bool = True, questions: bool = False, functions=None,
                   function_mistakes: bool = False, formulas: bool = False,
                   through_course: bool = False) -> dict:
    """The tests every question module's file runs, for its namespace::

        globals().update(standard_tests("A5", a5, questions=True, functions=a5,
                                        function_mistakes=True))

    ``references``: every variant's references earn full marks through
    ``grade_assignment``; ``mistakes``: each catalogued mistake of the
    assignment is named; ``questions``: the same for each question of
    ``module`` alone; ``functions``: the module whose function parts a correct
    implementation passes and a typical wrong one fails; ``function_mistakes``:
    a function made with a catalogued mistake is named as it, a correct one
    never is; ``formulas``: the assignment's rows of the ``GOOD`` / ``BAD``
    formula tables; ``through_course``: the references, as SymPy objects and
    as the text a notebook sends, through ``course.yaml``.  Each call makes
    new function objects, so every file parametrizes its own."""
    tests = {}
    if through_course:
        @pytest.mark.parametrize("wire", [False, True], ids=["sympy", "wire"])
        @pytest.mark.parametrize("student", STUDENTS)
        def test_reference_answers_earn_full_marks_through_the_course(student, wire):
            check_reference_answers_earn_full_marks_through_the_course(assignment, student, wire)
        tests[test_reference_answers_earn_full_marks_through_the_course.__name__] = \
            test_reference_answers_earn_full_marks_through_the_course
    if formulas:
        @pytest.mark.parametrize("qid,part,answer", formula_cases(assignment, GOOD),
                                 ids=lambda v: str(v))
        def test_equal_forms_are_accepted(qid, part, answer):
            check_equal_form_is_accepted(qid, part, answer)

        @pytest.mark.parametrize("qid,part,answer,mistake", formula_cases(assignment, BAD),
                                 ids=lambda v: str(v))
        def test_wrong_forms_are_rejected_and_catalogued_ones_named(qid, part, answer, mistake):
            check_wrong_form_is_rejected_and_a_catalogued_one_named(qid, part, answer, mistake)
        for t in (test_equal_forms_are_accepted,
                  test_wrong_forms_are_rejected_and_catalogued_ones_named):
            tests[t.__name__] = t
    if references:
        @pytest.mark.parametrize("student", [None, "alice", "bob", "s042"])
        def test_reference_answers_earn_full_marks_and_no_diagnosis(student):
            check_reference_answers_earn_full_marks_and_no_diagnosis(assignment, student)
        tests[test_reference_answers_earn_full_marks_and_no_diagnosis.__name__] = \
            test_reference_answers_earn_full_marks_and_no_diagnosis
    if mistakes:
        @pytest.mark.parametrize("student", [None, "alice", "carol"])
        @pytest.mark.parametrize("qid,mistake_id", mistake_cases(assignment))
        def test_every_catalogued_mistake_is_diagnosed(qid, mistake_id, student):
            check_every_catalogued_mistake_is_diagnosed(qid, mistake_id, student)
        tests[test_every_catalogued_mistake_is_diagnosed.__name__] = \
            test_every_catalogued_mistake_is_diagnosed
    if questions:
        @pytest.mark.parametrize("student", [None, "alice"])
        @pytest.mark.parametrize("q", judged_questions(module), ids=lambda q: q.id)
        def test_question_references_earn_full_marks_and_no_diagnosis(q, student):
            check_references_earn_full_marks_and_no_diagnosis(q, student)

        @pytest.mark.parametrize("q,mistake", question_mistake_cases(module))
        def test_question_catalogued_mistakes_are_diagnosed(q, mistake):
            check_catalogued_mistake_of_the_question_is_diagnosed(q, mistake)
        for t in (test_question_references_earn_full_marks_and_no_diagnosis,
                  test_question_catalogued_mistakes_are_diagnosed):
            tests[t.__name__] = t
    if functions is not None:
        @pytest.mark.parametrize("q,part", fn_parts(functions))
        def test_correct_implementations_pass_every_hidden_check(q, part):
            check_correct_implementation_passes_every_hidden_check(part)

        @pytest.mark.parametrize("q,part", fn_parts(functions))
        def test_typical_wrong_implementations_fail_with_a_message(q, part):
            check_typical_wrong_implementation_fails_with_a_message(part)
        for t in (test_correct_implementations_pass_every_hidden_check,
                  test_typical_wrong_implementations_fail_with_a_message):
            tests[t.__name__] = t
    if function_mistakes:
        @pytest.mark.parametrize("spec,k", fn_mistake_cases(assignment))
        def test_a_function_made_with_the_mistake_is_diagnosed_as_it(spec, k):
            check_function_made_with_the_mistake_is_diagnosed_as_it(spec, k)

        @pytest.mark.parametrize("spec", list(fn_specs_with_mistakes(assignment).values()),
                                 ids=lambda s: s.name)
        def test_correct_functions_are_never_diagnosed(spec):
            check_correct_function_is_never_diagnosed(spec)
        for t in (test_a_function_made_with_the_mistake_is_diagnosed_as_it,
                  test_correct_functions_are_never_diagnosed):
            tests[t.__name__] = t
    return tests

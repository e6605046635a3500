"""Question definitions of A1.q6, A5, A7, A8, A9: function parts judged on
hidden inputs, numeric / choice / formula parts with their mistakes.

* every function part: a correct implementation (plain NumPy from the
  lecture's formulas, or nn_core) passes every hidden check, and a typical
  wrong one fails with a message;
* every num/choice/sym part: the reference earns full marks, undiagnosed,
  and each catalogued mistake is diagnosed by name.
"""
import numpy as np
import pytest

from autograder.functions import InProcessRunner, judge_function
from autograder.judge import grade_question
from autograder.questions import a1_functions, a5, a7, a8, a9
from autograder.questions.a8 import judge_checked
from autograder.questions.base import Policy
from autograder.variants import variant_params

MODULES = (a1_functions, a5, a7, a8, a9)
ALL_QUESTIONS = [q for m in MODULES for q in m.QUESTIONS]
POLICY = Policy(rtol=1e-4, atol=1e-6, atol_scale=1e-6, shape_credit=0.5, ecf="full")
STATISTICAL = Policy(rtol=0.25, atol=1e-6, atol_scale=1e-6, shape_credit=0.5, ecf="full")          # course.yaml's "statistical" profile


def policy_for(q):
    return STATISTICAL if q.id == "A8.q7" else POLICY


# ---------------------------------------------------------------------------------------
# correct implementations, written from the lecture formulas


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# A1.q6
def add_backward(x, y, dout):
    return dout, dout


def mul_backward(x, y, dout):
    return dout * y, dout * x


def max_backward(x, y, dout):
    first = np.asarray(x) >= np.asarray(y)
    return dout * first, dout * ~first


def copy_backward(douts):
    return np.sum(douts, axis=0)


# A5
def forward(X, W1, b1, W2, b2):
    A1 = sigmoid(X @ W1.T + b1)
    return A1, sigmoid(A1 @ W2.T + b2)


def cost(X, Y, W1, b1, W2, b2):
    _, A2 = forward(X, W1, b1, W2, b2)
    return float(-np.mean(np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2), axis=1)))


def backward(X, Y, W1, b1, W2, b2):
    A1, A2 = forward(X, W1, b1, W2, b2)
    dZ2 = (A2 - Y) / len(X)
    dW2, db2 = dZ2.T @ A1, dZ2.sum(axis=0)
    dZ1 = dZ2 @ W2 * A1 * (1 - A1)
    return dZ1.T @ X, dZ1.sum(axis=0), dW2, db2


def gradient_descent(X, Y, W1, b1, W2, b2, lr, epochs, batch_size):
    W1, b1, W2, b2 = (a.copy() for a in (W1, b1, W2, b2))
    for _ in range(epochs):
        for i in range(0, len(X), batch_size):
            g = backward(X[i:i + batch_size], Y[i:i + batch_size], W1, b1, W2, b2)
            W1, b1, W2, b2 = (p - lr * d for p, d in zip((W1, b1, W2, b2), g))
    return W1, b1, W2, b2, cost(X, Y, W1, b1, W2, b2)


# A7
def correlate(a, k):
    kh, kw = k.shape
    return np.array([[np.sum(k * a[i:i + kh, j:j + kw]) for j in range(a.shape[1] - kw + 1)]
                     for i in range(a.shape[0] - kh + 1)])


def conv_forward(a, w):
    return correlate(a, w)


def conv_delta(delta_next, w, fprime):
    K = w.shape[0]
    return fprime * correlate(np.pad(delta_next, K - 1), w[::-1, ::-1])


def conv_dw(delta_next, a):
    return correlate(a, delta_next)


def windows(shape, K, stride):
    for i in range((shape[0] - K) // stride + 1):
        for j in range((shape[1] - K) // stride + 1):
            yield i, j, (slice(i * stride, i * stride + K), slice(j * stride, j * stride + K))


def maxpool_forward(x, K, stride):
    out = np.zeros(((x.shape[0] - K) // stride + 1, (x.shape[1] - K) // stride + 1))
    for i, j, win in windows(x.shape, K, stride):
        out[i, j] = x[win].max()
    return out


def maxpool_backward(dout, x, K, stride):
    dx = np.zeros_like(x)
    for i, j, win in windows(x.shape, K, stride):
        u, v = divmod(int(np.argmax(x[win])), K)           # first maximum (row-major)
        dx[win][u, v] += dout[i, j]
    return dx


def avgpool_forward(x, K, stride):
    out = np.zeros(((x.shape[0] - K) // stride + 1, (x.shape[1] - K) // stride + 1))
    for i, j, win in windows(x.shape, K, stride):
        out[i, j] = x[win].mean()
    return out


def avgpool_backward(dout, x, K, stride):
    dx = np.zeros_like(x)
    for i, j, win in windows(x.shape, K, stride):
        dx[win] += dout[i, j] / K ** 2
    return dx


# A8
def weight_decay_step(W, b, dW, db, lr, lam):
    return (1 - lr * lam) * W - lr * dW, b - lr * db


def dropout_train(a, p, u):
    return a * (u < p)


def dropout_test(a, p):
    return p * a


def dropout_inverted(a, p, u):
    return a * (u < p) / p


def step_decay(t, lr0, factor=0.1, milestones=(30, 60, 90)):
    passed = (np.asarray(t)[:, None] >= np.asarray(milestones)[None, :]).sum(axis=1)
    return lr0 * factor ** passed


def linear_decay(t, lr0, lr_end, T):
    return lr0 + (lr_end - lr0) * np.minimum(t, T) / T


def inverse_time_decay(t, lr0, k):
    return lr0 / (1 + k * t)


def clip_gradient(g, threshold):
    norm = np.linalg.norm(g)
    return g * threshold / norm if norm > threshold else g


def sgd(X, y, X_val, y_val, W1, b1, W2, b2, lr, epochs, batch_size, patience, seed):
    params = [a.copy() for a in (W1, b1, W2, b2)]
    rng = np.random.default_rng(seed)
    best, best_params, best_epoch, waited = np.inf, None, -1, 0
    for epoch in range(epochs):
        order = rng.permutation(len(X))
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            grads = backward(X[idx], y[idx], *params)
            params = [p - lr * g for p, g in zip(params, grads)]
        v = cost(X_val, y_val, *params)
        if v < best:
            best, best_params, best_epoch, waited = v, [p.copy() for p in params], epoch, 0
        else:
            waited += 1
            if waited >= patience:
                break
    return (*best_params, best_epoch)


def solve_xor(X, y, X_test):
    from nn_core import SGD, fit, mlp
    net = mlp([2, 8, 1], "tanh", loss="binary_cross_entropy_with_logits",
              rng=np.random.default_rng(0))
    fit(net, X, y[:, None], SGD(0.5), 1500)
    return (net.forward(X_test)[:, 0] > 0).astype(int)


def digits_predict(X_train, y_train, X_test):
    from nn_core import SGD, fit, mlp
    net = mlp([64, 32, 10], "relu", rng=np.random.default_rng(0))
    fit(net, X_train, y_train, SGD(0.2), 15, batch_size=32, rng=np.random.default_rng(0))
    return net.predict(X_test)


# A9
def elm_fit(X, T, W, b, ridge):
    H = sigmoid(X @ W.T + b)
    if ridge > 0:
        return np.linalg.solve(H.T @ H + ridge * np.eye(H.shape[1]), H.T @ T)
    return np.linalg.pinv(H) @ T


def relu_interpolant(knots, values):
    """The lecture's construction with the units in another order and scaled
    (W1 ×2, W2 ÷2): a different but exact network."""
    s = np.diff(values) / np.diff(knots)
    W1 = 2 * np.concatenate([np.ones(len(knots) - 2), [1.0, -1.0]])[:, None]
    b1 = 2 * np.concatenate([-knots[1:-1], [-knots[0], knots[0]]])
    W2 = np.concatenate([np.diff(s), [s[0], -s[0]]])[None, :] / 2
    return W1, b1, W2, np.array([values[0]])


CORRECT = {name: obj for name, obj in globals().items() if callable(obj)}


def fn_parts():
    return [(q, p) for q in ALL_QUESTIONS for p in q.parts if p.kind == "fn"]


FN_PARTS = [pytest.param(q, p, id=f"{q.id}/{p.name}") for q, p in fn_parts()]


def judge(spec, namespace, seed=0):
    return judge_checked(spec, np.random.default_rng(seed), InProcessRunner(namespace))


# ---------------------------------------------------------------------------------------
# function parts


@pytest.mark.parametrize("q,part", FN_PARTS)
def test_correct_implementations_pass_every_hidden_check(q, part):
    for seed in (0, 1):
        v = judge(part.fn, CORRECT, seed)
        assert (v.passed, v.total) == (v.total, v.total) and v.total >= 1, \
            [m.en for m in v.messages]
        if part.fn.name == "digits_predict":
            break                                            # one training run is enough


def test_every_function_part_has_several_hidden_cases_and_backward_ones_a_gradient_check():
    names = {}
    for q, part in fn_parts():
        cases = part.fn.cases(np.random.default_rng(0))
        names[part.fn.name] = part.fn
        if part.fn.name != "digits_predict":
            assert len(cases) >= 3, part.name
            shapes = {tuple(np.shape(a) for a in c) for c in cases}
            assert len(shapes) >= 2 or part.fn.name in ("sgd", "solve_xor"), part.name
    for name in ("backward", "conv_delta", "conv_dw", "maxpool_backward", "avgpool_backward"):
        assert names[name].grad_check is not None, name


def test_hidden_inputs_follow_the_seed():
    for q, part in fn_parts():
        if part.fn.name == "digits_predict":
            continue
        a = part.fn.cases(np.random.default_rng(5))
        b = part.fn.cases(np.random.default_rng(5))
        c = part.fn.cases(np.random.default_rng(6))
        flat = lambda cs: np.concatenate([np.ravel(np.asarray(x, dtype=float))  # noqa: E731
                                          for case in cs for x in case])
        assert np.array_equal(flat(a), flat(b))
        assert not np.array_equal(flat(a), flat(c)), part.name


def test_grade_question_runs_function_parts_through_the_runner():
    """The production path (judge_function via grade_question) on every part,
    the accuracy-threshold and any-network parts included."""
    runner = InProcessRunner(CORRECT)
    for q in ALL_QUESTIONS:
        answers = {q.local_id: dict(q.reference({}))}
        for r in grade_question(q, answers, {}, policy_for(q), {}, runner, seed=3):
            assert r.score == r.max_score, (r.label, r.feedback_text("en"))


def test_check_field_replaces_equality_with_the_reference():
    # relu_interpolant: the lecture's own construction and a reordered/rescaled
    # network that computes the same function both pass; digits is judged by
    # accuracy, not by equality of labels.
    from nn_core.elm import relu_interpolant as canonical
    rng = lambda: np.random.default_rng(0)                                   # noqa: E731
    assert judge_function(a9.RELU_SPEC, rng(), InProcessRunner({"relu_interpolant": canonical})).fraction == 1
    assert judge_function(a9.RELU_SPEC, rng(), InProcessRunner(CORRECT)).fraction == 1
    assert judge_function(a9.RELU_SPEC, rng(), InProcessRunner({"relu_interpolant": _wrong_relu})).fraction < 1
    truth = {"digits_predict": lambda X_train, y_train, X_test: a8.digits_labels(X_test)}
    assert judge_function(a8.DIGITS_SPEC, rng(), InProcessRunner(truth)).fraction == 1
    assert a8.DIGITS_SPEC.check is not None and a9.RELU_SPEC.check is not None


def _wrong_relu(knots, values):                     # no unit for the left of x0
    W1, b1, W2, b2 = CORRECT["relu_interpolant"](knots, values)
    return W1[:-1], b1[:-1], W2[:, :-1], b2


def _maxpool_spread(dout, x, K, stride):            # gradient to every cell of the window
    dx = np.zeros_like(x)
    for i, j, win in windows(x.shape, K, stride):
        dx[win] += dout[i, j]
    return dx


def _maxpool_ties_to_all(dout, x, K, stride):       # every tied maximum gets it
    dx = np.zeros_like(x)
    for i, j, win in windows(x.shape, K, stride):
        dx[win] += dout[i, j] * (x[win] == x[win].max())
    return dx


def _maxpool_no_overlap_sum(dout, x, K, stride):    # assignment: overlaps overwrite
    dx = np.zeros_like(x)
    for i, j, win in windows(x.shape, K, stride):
        u, v = divmod(int(np.argmax(x[win])), K)
        dx[win][u, v] = dout[i, j]
    return dx


def _sgd_no_restore(X, y, X_val, y_val, W1, b1, W2, b2, lr, epochs, batch_size, patience, seed):
    params = [a.copy() for a in (W1, b1, W2, b2)]
    rng = np.random.default_rng(seed)
    best, best_epoch, waited = np.inf, -1, 0
    for epoch in range(epochs):
        order = rng.permutation(len(X))
        for i in range(0, len(X), batch_size):
            idx = order[i:i + batch_size]
            params = [p - lr * g for p, g in zip(params, backward(X[idx], y[idx], *params))]
        v = cost(X_val, y_val, *params)
        if v < best:
            best, best_epoch, waited = v, epoch, 0
        else:
            waited += 1
            if waited >= patience:
                break
    return (*params, best_epoch)                    # the last parameters, not the best


def _linear_xor(X, y, X_test):                      # no hidden layer: cannot solve XOR
    w, b = np.zeros(2), 0.0
    for _ in range(2000):
        a = sigmoid(X @ w + b)
        w, b = w - 0.5 * X.T @ (a - y) / len(X), b - 0.5 * np.mean(a - y)
    return (sigmoid(X_test @ w + b) > 0.5).astype(int)


WRONG = {
    "add_backward": lambda x, y, d: (d, 0 * d),
    "mul_backward": lambda x, y, d: (d * x, d * y),                       # not swapped
    "copy_backward": lambda douts: np.mean(douts, axis=0),
    "max_backward": lambda x, y, d: (d, d),                               # not routed
    "forward": lambda X, W1, b1, W2, b2: (X @ W1.T + b1,
                                          sigmoid(sigmoid(X @ W1.T + b1) @ W2.T + b2)),
    "cost": lambda X, Y, *p: cost(X, Y, *p) * len(X),                     # 1/n missing
    "backward": lambda X, Y, *p: tuple(g * len(X) for g in backward(X, Y, *p)),   # 1/n missing
    "gradient_descent": lambda X, Y, W1, b1, W2, b2, lr, epochs, batch_size:
        gradient_descent(X, Y, W1, b1, W2, b2, 1.0, epochs, batch_size),  # lr not applied
    "conv_delta": lambda d, w, fp: fp * correlate(np.pad(d, w.shape[0] - 1), w),   # no rotation
    "conv_dw": lambda d, a: correlate(a, d).T,
    "maxpool_backward": _maxpool_spread,
    "avgpool_backward": lambda d, x, K, s: avgpool_backward(d, x, K, s) * K ** 2,  # no ÷K²
    "weight_decay_step": lambda W, b, dW, db, lr, lam: ((1 - lr * lam) * W - lr * dW,
                                                        (1 - lr * lam) * b - lr * db),  # bias decayed
    "dropout_train": lambda a, p, u: a * (u < p) / p,
    "dropout_test": lambda a, p: a,                                       # no test-time scaling
    "dropout_inverted": lambda a, p, u: a * (u < p),                      # no ÷p
    "step_decay": lambda t, lr0, f, m: lr0 * f ** (np.asarray(t)[:, None] > np.asarray(m)).sum(1),
    "linear_decay": lambda t, lr0, lr_end, T: lr0 + (lr_end - lr0) * t / T,   # no min(t, T)
    "inverse_time_decay": lambda t, lr0, k: lr0 / (1 + k) ** t,
    "clip_gradient": lambda g, thr: np.clip(g, -thr, thr),               # per component
    "sgd": _sgd_no_restore,
    "solve_xor": _linear_xor,
    "digits_predict": lambda X_train, y_train, X_test: np.zeros(len(X_test)),
    "elm_fit": lambda X, T, W, b, ridge: elm_fit(X, T, W, b, 0.0),        # ridge ignored
    "relu_interpolant": _wrong_relu,
}


@pytest.mark.parametrize("q,part", FN_PARTS)
def test_typical_wrong_implementations_fail_with_a_message(q, part):
    name = part.fn.name
    namespace = {**CORRECT, name: WRONG[name]}
    v = judge(part.fn, namespace)
    assert v.passed < v.total and v.messages, (part.name, v.passed, v.total)
    text = " ".join(m.en for m in v.messages)
    assert name in text and text.strip()


@pytest.mark.parametrize("wrong,expect_passed", [(_maxpool_ties_to_all, "all but the tie case"),
                                                 (_maxpool_no_overlap_sum, "overlap fails")])
def test_max_pool_tie_rule_and_overlaps(wrong, expect_passed):
    v = judge(a7.MAXPOOL, {**CORRECT, "maxpool_backward": wrong})
    o = judge(a7.OVERLAP, {**CORRECT, "maxpool_backward": wrong})
    if wrong is _maxpool_ties_to_all:       # distinct values everywhere except the tie case
        assert v.passed == v.total - 1 and o.passed == o.total
    else:                                   # non-overlapping windows are unaffected
        assert v.passed == v.total and o.passed < o.total


def test_backward_without_rotation_also_fails_the_gradient_check():
    v = judge(a7.CONV_DELTA, {**CORRECT, "conv_delta": WRONG["conv_delta"]})
    assert any("numerical gradient" in m.en for m in v.messages)
    v = judge(a5.BACKWARD, {**CORRECT, "backward": WRONG["backward"]})      # 1/n missing
    assert v.passed == 1 and any("numerical gradient" in m.en for m in v.messages)  # n = 1 only


def test_valid_padding_in_conv_backward_is_reported_with_shapes():
    def valid(d, w, fp):
        return correlate(d, w[::-1, ::-1])
    v = judge(a7.CONV_DELTA, {**CORRECT, "conv_delta": valid})
    assert v.passed == 0 and any("shape" in m.en for m in v.messages)


def test_functions_cannot_pass_by_mutating_their_inputs():
    def vandal(X, Y, W1, b1, W2, b2, lr, epochs, batch_size):
        out = gradient_descent(X, Y, W1, b1, W2, b2, lr, epochs, batch_size)
        W1[...] = out[0]                                # "return" through the argument
        return out
    v = judge(a5.GRADIENT_DESCENT, {**CORRECT, "gradient_descent": vandal})
    assert v.passed == v.total


def test_a5_training_reaches_the_stated_threshold():
    X, Y, W1, b1, W2, b2 = a5.train_set()
    s = a5.TRAIN_SET
    *_, J = a5.gd_reference(X, Y, W1, b1, W2, b2, s["lr"], s["epochs"], s["batch_size"])
    assert J < a5.COST_THRESHOLD < a5.cost_reference(X, Y, W1, b1, W2, b2)
    *_, J_student = gradient_descent(X, Y, W1, b1, W2, b2, s["lr"], s["epochs"], s["batch_size"])
    assert J_student == pytest.approx(J, rel=1e-9)


def test_sgd_cases_stop_early_and_restore_the_best_epoch():
    from nn_core.optim import SGD
    from nn_core.train import fit
    stopped = 0
    for case in a8._sgd_cases(np.random.default_rng(0)):
        X, y, Xv, yv, W1, b1, W2, b2, lr, epochs, batch, patience, seed = case
        hist = fit(a8._a5_network(W1, b1, W2, b2), X, y, SGD(lr), epochs, batch_size=batch,
                   rng=np.random.default_rng(seed), X_val=Xv, y_val=yv, patience=patience)
        stopped += hist.stopped_early
        assert hist.best_epoch < len(hist.loss)
    assert stopped >= 1


def test_digits_accuracy_is_computed_from_the_returned_labels():
    rng = np.random.default_rng(0)
    args = list(a8._digits_cases(rng)[0])
    truth = a8.digits_labels(args[2])
    ok, _ = a8.digits_check(args, truth)
    assert ok
    wrong = truth.copy()
    wrong[: int(0.2 * len(wrong))] = (wrong[: int(0.2 * len(wrong))] + 1) % 10
    ok, m = a8.digits_check(args, wrong)
    assert not ok and "accuracy" in m.en
    ok, m = a8.digits_check(args, truth[:-1])
    assert not ok and "shape" in m.en


# ---------------------------------------------------------------------------------------
# numeric, choice and formula parts

JUDGED = [q for q in ALL_QUESTIONS if any(p.kind != "fn" for p in q.parts)]


def _answers(q, params):
    return {q.local_id: {k: v for k, v in q.reference(params).items()
                         if q.part(k).kind != "fn"}}


def _non_fn(results, q):
    return [r for r in results if q.part(r.part).kind != "fn"]


@pytest.mark.parametrize("student", [None, "alice"])
@pytest.mark.parametrize("q", JUDGED, ids=lambda q: q.id)
def test_references_earn_full_marks_and_no_diagnosis(q, student):
    params = variant_params(q.assignment, student)
    results = _non_fn(grade_question(q, _answers(q, params), params, policy_for(q), {}), q)
    assert results
    for r in results:
        assert r.score == r.max_score, (r.label, r.feedback_text("en"))
        assert r.diagnosis is None and not r.carried_forward


MISTAKE_CASES = [pytest.param(q, m, id=f"{q.id}:{m.id}") for q in JUDGED for m in q.mistakes]


@pytest.mark.parametrize("q,mistake", MISTAKE_CASES)
def test_every_catalogued_mistake_is_diagnosed(q, mistake):
    params = variant_params(q.assignment, None)
    wrong = mistake.make(params)
    answers = _answers(q, params)
    answers[q.local_id].update(wrong)
    results = _non_fn(grade_question(q, answers, params, policy_for(q), {}), q)
    hit = [r for r in results if r.part in wrong and r.diagnosis == mistake.id]
    assert hit, [(r.part, r.status, r.diagnosis) for r in results]
    for r in results:
        if r.part in wrong:
            assert r.score < r.max_score, r.label
    for r in hit:
        text = r.feedback_text("zh+en")
        assert mistake.text.zh in text and mistake.text.en in text


def test_a5_batched_gradient_is_the_mean_of_the_per_sample_gradients():
    ref = a5.Q3.reference({})
    assert np.allclose(ref["dW1_each"].mean(axis=0), ref["dW1"], rtol=1e-12, atol=1e-15)
    # and a student's own loop over samples is accepted
    p = a5._params({})
    each = np.stack([backward(p["X"][i:i + 1], p["Y"][i:i + 1], p["W1"], p["b1"], p["W2"],
                              p["b2"])[0] for i in range(len(p["X"]))])
    dW1, db1, dW2, db2 = backward(p["X"], p["Y"], p["W1"], p["b1"], p["W2"], p["b2"])
    answers = {"q3": {"dW1_each": each, "dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}}
    results = grade_question(a5.Q3, answers, {}, POLICY, {})
    assert all(r.score == r.max_score for r in results)


def test_a8_zero_init_keeps_hidden_units_identical_random_init_does_not():
    ref = a8.Q1.reference({})
    assert np.abs(ref["W1_zero"]).max() > 0
    assert np.allclose(ref["W1_zero"], ref["W1_zero"][0]) and np.allclose(ref["W2_zero"],
                                                                           ref["W2_zero"][0, 0])
    rows = ref["W1_random"]
    assert min(np.abs(rows[i] - rows[j]).max() for i in range(3) for j in range(i)) > 0.05
    # the mistakes' loop equals nn_core's when no mistake is switched on
    p = a8._init_params({})
    for init in (a8._zero_init(p), a8._random_init(p)):
        for x, y in zip(a8.trained(p, init), a8.trained_by_hand(p, init)):
            assert np.allclose(x, y, rtol=1e-12, atol=1e-15)


def test_a8_sampled_variance_estimate_is_accepted():
    """What a student does: sample many mini-batches, measure the spread."""
    p = a8.VARIANCE_DEFAULTS
    G = a8.per_sample_gradients(p)
    g = G.mean(axis=0)
    rng = np.random.default_rng(0)
    var = [np.mean([np.sum((G[rng.choice(len(G), B, replace=False)].mean(axis=0) - g) ** 2)
                    for _ in range(600)]) for B in p["batch_sizes"]]
    slope = np.polyfit(np.log(p["batch_sizes"]), np.log(var), 1)[0]
    results = grade_question(a8.Q7, {"q7": {"var": var, "slope": slope}}, {}, STATISTICAL, {})
    assert all(r.score == r.max_score for r in results), [r.feedback_text("en") for r in results]
    assert a8.Q7.reference({})["slope"] == pytest.approx(-1, abs=0.05)


def test_a7_recurrence_choice_options_and_symbolic_case():
    assert a7.RECURRENCE in a7.RECURRENCE_OPTIONS
    for m in a7.Q1.mistakes:
        assert m.make({})["recurrence"] in a7.RECURRENCE_OPTIONS
    # the lecture's recurrence equals differentiating L (what q3 shows)
    assert a7.symbolic_case(rule="full_rot180") == {k: v for k, v in a7.symbolic_case().items()
                                                    if k != "dL_dw01"}
    results = grade_question(a7.Q3, {"q3": {"dL_da11": "w00d11 + w01 d10 + w10*d01 + w11*d00",
                                            "dL_da00": "d00 w00",
                                            "dL_dw01": "a01d00+a02d01+a03d02+a11d10+a12d11+a13d12"
                                                       "+a21d20+a22d21+a23d22"}},
                             {}, POLICY, {})
    assert all(r.status == "correct" for r in results), [r.feedback_text("en") for r in results]


@pytest.mark.parametrize("mistake, answers", [
    ("conv_no_rotation", {"dL_da11": "d00*w00 + d01*w01 + d10*w10 + d11*w11"}),
    # δ not padded: the output starts at a_11's window, so "a_00" gets a_11's four terms
    ("conv_valid_padding", {"dL_da00": "d00*w11 + d01*w10 + d10*w01 + d11*w00"}),
])
def test_a7_symbolic_case_names_the_recurrence_mistakes(mistake, answers):
    """A hand derivation that forgets the 180° rotation, or the zero padding,
    is wrong and the feedback names that mistake (the reference is SymPy's
    derivative of L, the mistaken forms the recurrence without the step)."""
    no_points = {p.name: 0.0 for p in a7.Q3.parts}       # course.yaml: q3 is worth 0
    results = {r.part: r for r in grade_question(a7.Q3, {"q3": answers}, {}, POLICY, no_points)}
    for part in answers:
        r = results[part]
        assert r.status == "wrong" and r.diagnosis == mistake, r.feedback_text("en")
        assert r.score == r.max_score == 0


def test_all_mistake_ids_are_catalogued_and_every_question_exposed():
    from autograder.mistakes import mistake
    ids = {q.id for q in ALL_QUESTIONS}
    assert {"A1.q6", "A5.q1", "A5.q2", "A5.q3", "A5.q4", "A7.q1", "A7.q2", "A8.q1", "A8.q2",
            "A8.q3", "A8.q4", "A8.q5", "A8.q6", "A8.q7", "A9.q1", "A9.q2"} <= ids
    for q in ALL_QUESTIONS:
        for m in q.mistakes:
            assert (mistake(m.id).name, mistake(m.id).hint) == (m.name, m.hint)


def test_course_yaml_parts_agree_with_the_definitions():
    from autograder.config import load_course
    course = load_course("course.yaml")
    for q in ALL_QUESTIONS:
        qc = course.question(q.id)
        if qc.parts:
            assert set(qc.parts) == {p.name for p in q.parts}, q.id

"""Student-style implementations of the function parts, shared by the
question tests (tests/questions/) and the diagnosis tests (test_fn_mistakes.py).

``CORRECT``: plain NumPy written from the lecture's formulas (or nn_core), one
function per function part of A1.q6, A5, A7, A8, A9; ``WRONG``: the typical
wrong version of each, a student's slip; ``NUMPY`` / ``NN_CORE``: the
function parts of A2 and A6 written in NumPy, and nn_core's own.  None of
them is taken from the question modules under test.
"""
import numpy as np

import nn_core.activations as act
from nn_core.opcount import network_counts

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


# ---------------------------------------------------------------------------------------
# typical wrong implementations


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


# ---------------------------------------------------------------------------------------
# A2 and A6: NumPy from the lecture, and nn_core


def count_ops_from_dense_counts(layer_sizes, batch):
    """nn_core's analytic counts (not the instrumented run the judge uses)."""
    c = network_counts(list(layer_sizes), batch)
    return c["forward_mults"], c["forward_adds"], c["backward_mults"], c["backward_adds"]


NN_CORE = {"log_softmax_jacobian": act.log_softmax_jacobian, "sigmoid": act.sigmoid,
           "log_softmax": act.log_softmax, "count_ops": count_ops_from_dense_counts}


def np_sigmoid(x):
    """Written from the lecture: σ(x) = 1/(1+e^{−x}) = e^{x}/(1+e^{x}), whichever cannot overflow."""
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def np_log_softmax(x):
    m = np.max(x, axis=-1, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))


def np_log_softmax_jacobian(x):
    s = np.exp(np_log_softmax(x))
    return np.eye(len(x)) - s[None, :]                  # J_ij = δ_ij − s_j


def np_count_ops(layer_sizes, batch):
    """The convention, stated in the notebook, written out layer by layer."""
    B, fm = batch, [0, 0, 0, 0]
    for l in range(1, len(layer_sizes)):
        k, m = layer_sizes[l - 1], layer_sizes[l]
        fm[0] += B * m * k
        fm[1] += B * m * (k - 1) + B * m
        fm[2] += B * m + B * m * k + (B * k * m if l > 1 else 0)
        fm[3] += (B - 1) * m * k + (B - 1) * m + (B * k * (m - 1) if l > 1 else 0)
    return tuple(fm)


NUMPY = {"log_softmax_jacobian": np_log_softmax_jacobian, "sigmoid": np_sigmoid,
         "log_softmax": np_log_softmax, "count_ops": np_count_ops}

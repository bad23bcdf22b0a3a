#!/bin/sh
# The examples print the lecture's numbers: runs each one from the examples
# build directory ($1) and looks for them in its output. (fashion_mnist is
# left out: it trains for minutes; the demo runs the same model.)
set -u
dir=$1
failures=0

check() { # example, text that must appear
    if ! "$dir/$1" 2>&1 | grep -qF -- "$2"; then
        echo "FAIL: examples/$1 does not print: $2"
        failures=$((failures + 1))
    fi
}

check circuit "forward  q #3 = add(x = -2, y = 5) = 3"
check circuit "dq = z * upstream = -4 * 1 = -4, dz = q * upstream = 3 * 1 = 3"
check circuit "dx = upstream = -4, dy = upstream = -4"
check circuit "df/dz = 3"

check gates "forward  f #8 = mul(2, s = -10) = -20"
check gates "dz = upstream (2 >= -1) = 2, dw = 0 (routed to the other input)"
check gates "f = -20; df/dx = -8, df/dy = 6, df/dz = 2, df/dw = 0"
check gates "copy gate, gradient adder: dx = 1 (from g) + 4 (from p) = 5"

check neuron "forward  f #9 = sigmoid(dot = 1) = 0.73105858"
check neuron "ddot = f * (1 - f) * upstream = 0.73105858 * (1 - 0.73105858) * 1 = 0.19661193"
check neuron "f = 0.7310585786300049"
check neuron "dx = [0.3932238664829637, -0.58983579972444"
check neuron "dw = [-0.19661193324148185, -0.3932238664829637, 0.19661193324148185]"

check shopping "price = 220; dapple = 2.2, dapple_count = 110, dtax = 200"
check shopping "price = 715; dapple = 2.2, dapple_count = 110, dorange = 3.3, dorange_count = 165, dtax = 650"
check shopping "dtotal = tax * upstream = 1.1 * 1 = 1.1, dtax = total * upstream = 650 * 1 = 650"

check vectorized "= [2,1] {0.22, 0.26}"
check vectorized "f = 0.116"
check vectorized "W.grad = [2,2] {0.088, 0.176, 0.104, 0.208}, x.grad = [2,1] {-0.112, 0.636}"
check vectorized "grad x = [-0.112, 0.636]"

check xor "4 of 4 right"

check backprop_step "forward: o1 = 0.60944600, o2 = 0.66384491, E = 0.02397190"
check backprop_step "dE/dw1..w4 = 0.00080888 0.00161775 0.00071009 0.00142017"
check backprop_step "dE/dw5..w8 = 0.02592286 0.02629590 0.00740844 0.00751506"
check backprop_step "after : w1..w4 = 0.29959556 0.24919112 0.39964496 0.34928991, w5..w8 = 0.43703857 0.38685205 0.69629578 0.59624247"
check backprop_step "new E = 0.02323634"

check linear_step "output = 0.191000, error = 0.3272405, delta = -0.809"
check linear_step "new w5 = 0.1743825, w6 = 0.169416"
check linear_step "new w1 (i1->h1) = 0.121326, w2 (i2->h1) = 0.226989, w3 (i1->h2) = 0.132135, w4 (i2->h2) = 0.0982025"

check perceptrons "AND    0 0 -> 0  0 1 -> 0  1 0 -> 0  1 1 -> 1"
check perceptrons "OR     0 0 -> 0  0 1 -> 1  1 0 -> 1  1 1 -> 1"
check perceptrons "NAND   0 0 -> 1  0 1 -> 1  1 0 -> 1  1 1 -> 0"
check perceptrons "XOR    0 0 -> 0  0 1 -> 1  1 0 -> 1  1 1 -> 0"

check boundary "spiral: test accuracy 1.000"

check moons "337 parameters, 65818 nodes"
check moons "step  0  loss 1.385724  accuracy 38%"
check moons "step 99  loss 0.013344  accuracy 100%"

check newton "step 0: x = -1.200000000000000, y = 1.000000000000000, f = 2.420000e+01, |grad| = 2.329e+02"
check newton "step 5: x = 0.999995695653671, y = 0.999991391325722, f = 1.852740e-11"
check newton "minimum reached: (1.000000000000000, 1.000000000000000)"

[ "$failures" -eq 0 ] && echo "all example checks passed"
[ "$failures" -eq 0 ]

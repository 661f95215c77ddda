#!/usr/bin/env python3
"""Writes the seed corpus of fuzz/fuzz_array.cpp into fuzz/corpus/.

Each seed is the 27-byte header that fuzz_array.cpp decodes (its file
comment lists the fields; keep the two in step) followed by a short payload
of element bytes. The seeds cover every function, both element types, every
reduction, every error kind, raw bit patterns, options spans of wrong
lengths, misaligned arrays, maps in place, and one array long enough to run
on two threads.

    python3 fuzz/make_corpus.py [OUTPUT_DIR]      (default: fuzz/corpus)

Existing *.bin files in the output directory are replaced. Standard library
only; the output is the same on every run.
"""
import os
import random
import sys

HEADER_SIZE = 27
FUNCTIONS = {
    "logits_fwd": 0, "logits_fwdbwd": 1, "bce_fwd": 2, "bce_fwdbwd": 3,
    "sigmoid": 4, "softplus": 5, "log_sigmoid": 6, "sigmoid_backward": 7,
}
REDUCTIONS = {"none": 0, "sum": 1, "mean": 2}
# Value modes (per array): 0 valid spread with special values, 1 hard or
# small values, 2 raw bit patterns, 3 as 0 with some invalid elements.
VALID, HARD, RAW, SOME_BAD = 0, 1, 2, 3
# Weight modes (byte 6): 0 none, 3 n values, 5 wrong length (byte 7 picks
# n+1, n-1, n+16, 2n+1), 6 null data with size n, 7 non-null data, size 0.
# pos_weight modes (byte 8): 0 none, 3 one value, 4 C values (byte 9 picks a
# divisor of n), 6 a C not dividing n, 7 null data.
# losses modes (byte 10): 0 given with reduction::none only, 1 always n
# elements, 2 never, 3 wrong (byte 11: n+1, n-1, n+16, null data, size 0).
# Sprinkle kinds (byte 24, bits 0-2): 1 NaN, 2 -1, 3 1+eps, 4 -denormal,
# 5 +inf, 6 -inf, 7 -0 (valid); arrays (bits 3-4): 0 x, 1 y, 2 weight,
# 3 pos_weight.
NULL_X, NULL_Y, NULL_OUT = 0xE1, 0xE2, 0xE4
IN_PLACE, TIGHT = 0x08, 0x10
IN_PLACE_Y = 0x09  # sigmoid_backward in place over grad_out (y) instead of x


def seed(fn, dtype="f32", n=16, reduce="mean", weight=0, weight_param=0, pos_weight=0, pos_weight_param=0,
         losses=0, losses_param=0, flags=0, threads=1, check=True, path=0, offsets=(0, 0, 0, 0, 0, 0),
         modes=(VALID, VALID, VALID, VALID), sprinkle=None, gen_seed=0, probe=128, payload=0, n_raw=None):
    """One input: the header fields by name, then the payload (bytes, or a count of pseudo-random bytes)."""
    h = bytearray(HEADER_SIZE)
    h[0] = 1 if dtype == "f64" else 0
    h[1] = FUNCTIONS[fn]
    if n_raw is not None:  # (mode, parameter) as decoded by decode_n
        h[2], param = n_raw
    else:
        assert 0 <= n <= 4096
        h[2], param = 2, n  # mode 2: n = parameter % 4097
    h[3], h[4] = param & 0xFF, param >> 8
    h[5] = REDUCTIONS[reduce]
    h[6], h[7] = weight, weight_param
    h[8], h[9] = pos_weight, pos_weight_param
    h[10], h[11] = losses, losses_param
    h[12] = flags
    h[13] = {1: 0, 2: 1, 0: 2}[threads]
    h[14] = 0 if check else 3
    h[15] = path
    h[16:22] = bytes(offsets)
    h[22] = modes[0] | modes[1] << 2 | modes[2] << 4 | modes[3] << 6
    if sprinkle is not None:
        kind, array, index = sprinkle
        h[23], h[24] = index, kind | array << 3
    h[25], h[26] = gen_seed, probe
    if isinstance(payload, bytes):
        return bytes(h) + payload
    rng = random.Random(len(h) * 7919 + sum(h))
    return bytes(h) + bytes(rng.randrange(256) for _ in range(payload))


def seeds():
    s = {}
    # Every function and type, valid values, the reductions in turn.
    s["logits_fwd_f32_mean_n16"] = seed("logits_fwd", n=16, payload=48)
    s["logits_fwd_f64_sum_n33_weighted"] = seed("logits_fwd", "f64", n=33, reduce="sum", weight=3,
                                                offsets=(3, 1, 0, 0, 5, 0), payload=120)
    s["logits_fwdbwd_f32_none_n17_posweight1"] = seed("logits_fwdbwd", n=17, reduce="none", pos_weight=3,
                                                      offsets=(1, 2, 3, 4, 0, 7), payload=60)
    s["logits_fwdbwd_f64_mean_n96_classes"] = seed("logits_fwdbwd", "f64", n=96, pos_weight=4, pos_weight_param=5,
                                                   weight=4, path=1, payload=200)
    s["logits_fwdbwd_f32_none_n67_soft_classes"] = seed("logits_fwdbwd", n=67 * 3, reduce="none", pos_weight=5,
                                                        pos_weight_param=2, path=2, offsets=(15, 9, 11, 13, 0, 1),
                                                        payload=220)
    s["bce_fwd_f32_sum_n8"] = seed("bce_fwd", n=8, reduce="sum", payload=24)
    s["bce_fwd_f64_none_n31_hard"] = seed("bce_fwd", "f64", n=31, reduce="none", modes=(VALID, HARD, VALID, VALID),
                                          offsets=(2, 0, 0, 6, 0, 0), payload=80)
    s["bce_fwdbwd_f32_mean_n64_weighted"] = seed("bce_fwdbwd", n=64, weight=3, modes=(VALID, VALID, HARD, VALID),
                                                 path=1, payload=200)
    s["bce_fwdbwd_f64_none_n5"] = seed("bce_fwdbwd", "f64", n=5, reduce="none", offsets=(1, 1, 1, 1, 1, 1),
                                       payload=15)
    s["sigmoid_f32_n100"] = seed("sigmoid", n=100, payload=100)
    s["sigmoid_f64_raw_n12"] = seed("sigmoid", "f64", n=12, modes=(RAW, 0, 0, 0), payload=96)
    s["softplus_f32_raw_n23"] = seed("softplus", n=23, modes=(RAW, 0, 0, 0), offsets=(5, 0, 3, 0, 0, 0), payload=92)
    s["softplus_f64_in_place_n9"] = seed("softplus", "f64", n=9, flags=IN_PLACE, payload=9)
    s["log_sigmoid_f32_tight_n257"] = seed("log_sigmoid", n=257, flags=TIGHT, path=2, payload=200)
    s["log_sigmoid_f64_n1"] = seed("log_sigmoid", "f64", n=1, payload=1)
    # sigmoid's backward: grad_out is y (any value); in place over either input.
    s["sigmoid_backward_f32_n70"] = seed("sigmoid_backward", n=70, offsets=(1, 2, 3, 0, 0, 0), payload=140)
    s["sigmoid_backward_f64_raw_n13"] = seed("sigmoid_backward", "f64", n=13, modes=(RAW, RAW, 0, 0), path=1,
                                             payload=208)
    s["sigmoid_backward_f32_in_place_x_n33"] = seed("sigmoid_backward", n=33, flags=IN_PLACE, payload=66)
    s["sigmoid_backward_f64_in_place_grad_out_n17"] = seed("sigmoid_backward", "f64", n=17, flags=IN_PLACE_Y,
                                                           path=2, payload=34)
    # Sizes: empty arrays (the mean of nothing), SIMD-width boundaries.
    s["logits_fwd_f64_mean_n0"] = seed("logits_fwd", "f64", n=0)
    s["bce_fwdbwd_f32_none_n0_nulls"] = seed("bce_fwdbwd", n=0, reduce="none", flags=NULL_X | NULL_Y | NULL_OUT)
    s["logits_fwd_f32_sum_n127_widths"] = seed("logits_fwd", reduce="sum", n_raw=(1, (2 << 8) | (8 << 3) | 3),
                                               payload=127)
    # Raw bit patterns with checks off (NaN, inf, subnormal, out-of-range targets).
    s["logits_fwdbwd_f32_raw_unchecked"] = seed("logits_fwdbwd", n=20, reduce="sum", check=False,
                                                modes=(RAW, RAW, RAW, RAW), weight=3, payload=240)
    s["bce_fwdbwd_f64_bad_unchecked"] = seed("bce_fwdbwd", "f64", n=30, reduce="none", check=False,
                                             modes=(SOME_BAD, SOME_BAD, VALID, VALID), payload=60)
    # Every error kind.
    s["err_null_pointer_x"] = seed("logits_fwd", n=4, flags=NULL_X)
    s["err_null_pointer_grad"] = seed("bce_fwdbwd", "f64", n=4, flags=NULL_OUT)
    s["err_null_pointer_map_out"] = seed("sigmoid", n=3, flags=NULL_OUT)
    s["err_null_pointer_grad_out"] = seed("sigmoid_backward", "f64", n=5, flags=NULL_Y)
    s["err_null_pointer_weight"] = seed("logits_fwd", "f64", n=6, weight=6)
    s["err_size_mismatch_weight"] = seed("logits_fwdbwd", n=10, weight=5, weight_param=1)
    s["err_size_mismatch_weight_empty"] = seed("bce_fwd", "f64", n=3, weight=7)
    s["err_size_mismatch_pos_weight_bce"] = seed("bce_fwd", n=6, pos_weight=3)
    s["err_size_mismatch_pos_weight_classes"] = seed("logits_fwd", "f64", n=10, pos_weight=6, pos_weight_param=1)
    s["err_size_mismatch_losses_sum"] = seed("logits_fwd", n=5, reduce="sum", losses=1)
    s["err_missing_output_none"] = seed("bce_fwdbwd", n=5, reduce="none", losses=2)
    s["err_missing_output_null_losses"] = seed("logits_fwdbwd", "f64", n=5, reduce="none", losses=3, losses_param=3)
    s["err_target_out_of_range"] = seed("logits_fwdbwd", n=40, reduce="none", sprinkle=(3, 1, 200), payload=80)
    s["err_probability_out_of_range"] = seed("bce_fwd", "f64", n=24, sprinkle=(1, 0, 60), payload=48)
    s["err_negative_weight"] = seed("bce_fwdbwd", n=18, weight=3, sprinkle=(2, 2, 30), payload=54)
    s["err_negative_pos_weight"] = seed("logits_fwd", "f64", n=12, pos_weight=4, pos_weight_param=3,
                                        sprinkle=(4, 3, 99), payload=40)
    s["err_first_bad_of_many"] = seed("bce_fwd", n=50, modes=(SOME_BAD, SOME_BAD, SOME_BAD, VALID), weight=3,
                                      payload=150)
    # NaN logits (the special-value table's entry 6) through the double
    # evaluation of every logit function.
    s["nan_logit_f64_sigmoid"] = seed("sigmoid", "f64", n=3, payload=bytes([6, 40, 200]))
    # 8 blocks of 16384 elements: two threads (thread count against one).
    s["big_threads_f32_sum"] = seed("logits_fwdbwd", reduce="sum", threads=2, n_raw=(0xFF, (17 << 2) | 2),
                                    modes=(HARD, HARD, VALID, VALID), payload=64)
    return s


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus")
    os.makedirs(out, exist_ok=True)
    for old in os.listdir(out):
        if old.endswith(".bin"):
            os.remove(os.path.join(out, old))
    for name, data in sorted(seeds().items()):
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(data)
    print(f"{len(seeds())} seeds written to {out}")


if __name__ == "__main__":
    main()

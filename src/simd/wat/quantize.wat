;; Quantisation kernels over the module's own memory (byte offsets), two float64 lanes at a time, with
;; exactly the arithmetic of src/tensor/quant.ts (the same float64 operations in the same order, no
;; fused multiply-add, a division where it divides), so every code equals the scalar formula's:
;;   quantize    q = clamp(roundHalfAway(v / scale - offset), 0, 0xffff)
;;   requantize  q = clamp(roundHalfAway(ratio * q_src + bias), 0, 0xffff)
;; Rounding half away on the unsigned range: below 0.5 the code is 0 (lanes masked to +0 first),
;; otherwise trunc(x + 0.5), exact for 0.5 <= x < 2^52 (larger values saturate anyway). The float64 ->
;; int32 conversion saturates, and the int32 -> uint16 narrowing clamps to 0..0xffff: that is the clamp.
;; The loops stay one pair per iteration: unrolled by four they were ~15% faster, not worth four copies;
;; the rounding is written out in each (V8 does not inline WebAssembly calls: a call doubled the time).
(module
  (memory (export "memory") 1)

  ;; $n float32 values at $src to uint16 codes at $dst. Returns -1, or the byte offset of the first
  ;; pair holding a NaN; the codes before that pair are written.
  (func (export "quantizeF32ToU16") (param $src i32) (param $dst i32) (param $n i32) (param $scale f64) (param $offset f64) (result i32)
    (local $end i32) (local $s v128) (local $o v128) (local $half v128) (local $v v128) (local $q v128)
    (local.set $s (f64x2.splat (local.get $scale)))
    (local.set $o (f64x2.splat (local.get $offset)))
    (local.set $half (f64x2.splat (f64.const 0.5)))
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $v (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $src))))
        (if (v128.any_true (f64x2.ne (local.get $v) (local.get $v)))
          (then (return (local.get $src))))
        (local.set $q (f64x2.add (v128.andnot (local.tee $q (f64x2.sub (f64x2.div (local.get $v) (local.get $s)) (local.get $o))) (f64x2.lt (local.get $q) (local.get $half))) (local.get $half)))
        (local.set $q (i32x4.trunc_sat_f64x2_s_zero (local.get $q)))
        (v128.store32_lane 0 (local.get $dst) (i16x8.narrow_i32x4_u (local.get $q) (local.get $q)))
        (local.set $src (i32.add (local.get $src) (i32.const 8)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (br $next)))
    (i32.const -1))

  ;; $n uint16 codes at $src re-expressed as uint16 codes of another encoding at $dst.
  (func (export "requantizeU16ToU16") (param $src i32) (param $dst i32) (param $n i32) (param $ratio f64) (param $bias f64)
    (local $end i32) (local $r v128) (local $k v128) (local $half v128) (local $q v128)
    (local.set $r (f64x2.splat (local.get $ratio)))
    (local.set $k (f64x2.splat (local.get $bias)))
    (local.set $half (f64x2.splat (f64.const 0.5)))
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 1))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $q (f64x2.convert_low_i32x4_s (i32x4.extend_low_i16x8_u (v128.load32_zero (local.get $src)))))
        (local.set $q (f64x2.add (v128.andnot (local.tee $q (f64x2.add (f64x2.mul (local.get $q) (local.get $r)) (local.get $k))) (f64x2.lt (local.get $q) (local.get $half))) (local.get $half)))
        (local.set $q (i32x4.trunc_sat_f64x2_s_zero (local.get $q)))
        (v128.store32_lane 0 (local.get $dst) (i16x8.narrow_i32x4_u (local.get $q) (local.get $q)))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (br $next))))
)

;; The sampler's passes over a logits row in the module's own memory (byte offsets): the k best tokens
;; of a row of uint16 codes or float32 values (k = 1: the argmax), uint16 codes dequantized to float32,
;; the histogram of uint16 codes (top-p on codes), and the largest code (the bench's floor of one SIMD
;; pass).
;;
;; The top-k kernels are src/sampler/rank.ts's selectTopK step for step, so that they leave the same
;; tokens in the same heap order (the draws that follow sum masses in that order): a heap of size k
;; starts from tokens 0..k-1, heapified; a later token enters, replacing the root (the worst kept
;; token) and sifting down, when its key is strictly greater than the root's, so the lowest ids win
;; ties. Only the scan for such keys is vectorised: 32 codes (or 16 floats) at a time, folded into one
;; vector with max, compared with the root's key splatted; in a block that holds a greater key, the
;; lanes above the root are offered one by one in id order, as the scalar loop meets them. After the
;; first few thousand tokens the root rarely moves: a scan is a max and a compare per vector.
;;
;; Rows are padded by the caller to whole blocks: with zero codes (never greater than a root, which
;; is >= 0), with -Infinity floats (never greater than anything, and not NaN).
(module
  (memory (export "memory") 1)

  ;; Whether token $a ranks before token $b by their uint16 keys: greater key, lower id on ties.
  (func $ranksBeforeU16 (param $keys i32) (param $a i32) (param $b i32) (result i32)
    (local $ka i32) (local $kb i32)
    (local.set $ka (i32.load16_u (i32.add (local.get $keys) (i32.shl (local.get $a) (i32.const 1)))))
    (local.set $kb (i32.load16_u (i32.add (local.get $keys) (i32.shl (local.get $b) (i32.const 1)))))
    (i32.or (i32.gt_u (local.get $ka) (local.get $kb))
            (i32.and (i32.eq (local.get $ka) (local.get $kb)) (i32.lt_u (local.get $a) (local.get $b)))))

  (func $ranksBeforeF32 (param $keys i32) (param $a i32) (param $b i32) (result i32)
    (local $ka f32) (local $kb f32)
    (local.set $ka (f32.load (i32.add (local.get $keys) (i32.shl (local.get $a) (i32.const 2)))))
    (local.set $kb (f32.load (i32.add (local.get $keys) (i32.shl (local.get $b) (i32.const 2)))))
    (i32.or (f32.gt (local.get $ka) (local.get $kb))
            (i32.and (f32.eq (local.get $ka) (local.get $kb)) (i32.lt_u (local.get $a) (local.get $b)))))

  ;; Restores the heap of $size int32 tokens at $heap below $pos: every parent ranks after its children.
  (func $siftDownU16 (param $keys i32) (param $heap i32) (param $size i32) (param $pos i32)
    (local $token i32) (local $child i32) (local $other i32)
    (local.set $token (i32.load (i32.add (local.get $heap) (i32.shl (local.get $pos) (i32.const 2)))))
    (block $done
      (loop $down
        (local.set $child (i32.add (i32.shl (local.get $pos) (i32.const 1)) (i32.const 1)))
        (br_if $done (i32.ge_s (local.get $child) (local.get $size)))
        (if (i32.lt_s (i32.add (local.get $child) (i32.const 1)) (local.get $size))
          (then
            (local.set $other (i32.load (i32.add (local.get $heap) (i32.shl (i32.add (local.get $child) (i32.const 1)) (i32.const 2)))))
            (if (call $ranksBeforeU16 (local.get $keys)
                  (i32.load (i32.add (local.get $heap) (i32.shl (local.get $child) (i32.const 2)))) (local.get $other))
              (then (local.set $child (i32.add (local.get $child) (i32.const 1)))))))
        (local.set $other (i32.load (i32.add (local.get $heap) (i32.shl (local.get $child) (i32.const 2)))))
        (br_if $done (i32.eqz (call $ranksBeforeU16 (local.get $keys) (local.get $token) (local.get $other))))
        (i32.store (i32.add (local.get $heap) (i32.shl (local.get $pos) (i32.const 2))) (local.get $other))
        (local.set $pos (local.get $child))
        (br $down)))
    (i32.store (i32.add (local.get $heap) (i32.shl (local.get $pos) (i32.const 2))) (local.get $token)))

  (func $siftDownF32 (param $keys i32) (param $heap i32) (param $size i32) (param $pos i32)
    (local $token i32) (local $child i32) (local $other i32)
    (local.set $token (i32.load (i32.add (local.get $heap) (i32.shl (local.get $pos) (i32.const 2)))))
    (block $done
      (loop $down
        (local.set $child (i32.add (i32.shl (local.get $pos) (i32.const 1)) (i32.const 1)))
        (br_if $done (i32.ge_s (local.get $child) (local.get $size)))
        (if (i32.lt_s (i32.add (local.get $child) (i32.const 1)) (local.get $size))
          (then
            (local.set $other (i32.load (i32.add (local.get $heap) (i32.shl (i32.add (local.get $child) (i32.const 1)) (i32.const 2)))))
            (if (call $ranksBeforeF32 (local.get $keys)
                  (i32.load (i32.add (local.get $heap) (i32.shl (local.get $child) (i32.const 2)))) (local.get $other))
              (then (local.set $child (i32.add (local.get $child) (i32.const 1)))))))
        (local.set $other (i32.load (i32.add (local.get $heap) (i32.shl (local.get $child) (i32.const 2)))))
        (br_if $done (i32.eqz (call $ranksBeforeF32 (local.get $keys) (local.get $token) (local.get $other))))
        (i32.store (i32.add (local.get $heap) (i32.shl (local.get $pos) (i32.const 2))) (local.get $other))
        (local.set $pos (local.get $child))
        (br $down)))
    (i32.store (i32.add (local.get $heap) (i32.shl (local.get $pos) (i32.const 2))) (local.get $token)))

  ;; The $k best tokens (1 <= $k <= $n) of the $n uint16 codes at $keys (padded with zero codes to a
  ;; multiple of 32) into the $k int32 slots at $heap, in selectTopK's heap order.
  (func (export "topKU16") (param $keys i32) (param $n i32) (param $k i32) (param $heap i32)
    (local $i i32) (local $end i32) (local $head i32) (local $worst i32) (local $p i32) (local $at i32)
    (local $mask i32) (local $w v128)
    (block $built
      (loop $init
        (br_if $built (i32.ge_s (local.get $i) (local.get $k)))
        (i32.store (i32.add (local.get $heap) (i32.shl (local.get $i) (i32.const 2))) (local.get $i))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $init)))
    (local.set $i (i32.sub (i32.shr_u (local.get $k) (i32.const 1)) (i32.const 1)))
    (block $heapified
      (loop $heapify
        (br_if $heapified (i32.lt_s (local.get $i) (i32.const 0)))
        (call $siftDownU16 (local.get $keys) (local.get $heap) (local.get $k) (local.get $i))
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (br $heapify)))
    (local.set $worst (i32.load16_u (i32.add (local.get $keys) (i32.shl (i32.load (local.get $heap)) (i32.const 1)))))
    ;; The head, tokens $k up to the first block boundary, one at a time.
    (local.set $i (local.get $k))
    (local.set $head (i32.and (i32.add (local.get $k) (i32.const 31)) (i32.const -32)))
    (block $walked
      (loop $walk
        (br_if $walked (i32.ge_u (local.get $i) (local.get $head)))
        (if (i32.gt_u (i32.load16_u (i32.add (local.get $keys) (i32.shl (local.get $i) (i32.const 1)))) (local.get $worst))
          (then
            (i32.store (local.get $heap) (local.get $i))
            (call $siftDownU16 (local.get $keys) (local.get $heap) (local.get $k) (i32.const 0))
            (local.set $worst (i32.load16_u (i32.add (local.get $keys) (i32.shl (i32.load (local.get $heap)) (i32.const 1)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $walk)))
    ;; Then whole blocks. In a block holding a greater key, each vector's lanes above the root (a
    ;; bitmask) are offered in order; a lane not flagged is below the root, which only rises.
    (local.set $end (i32.and (i32.add (local.get $n) (i32.const 31)) (i32.const -32)))
    (local.set $w (i16x8.splat (local.get $worst)))
    (block $scanned
      (loop $blocks
        (br_if $scanned (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $p (i32.add (local.get $keys) (i32.shl (local.get $i) (i32.const 1))))
        (if (v128.any_true (i16x8.gt_u
              (i16x8.max_u
                (i16x8.max_u (v128.load (local.get $p)) (v128.load offset=16 (local.get $p)))
                (i16x8.max_u (v128.load offset=32 (local.get $p)) (v128.load offset=48 (local.get $p))))
              (local.get $w)))
          (then
            (local.set $at (local.get $i))
            (block $vectorsDone
              (loop $vectors
                (br_if $vectorsDone (i32.ge_u (local.get $at) (i32.add (local.get $i) (i32.const 32))))
                (local.set $mask (i16x8.bitmask (i16x8.gt_u
                  (v128.load (i32.add (local.get $keys) (i32.shl (local.get $at) (i32.const 1)))) (local.get $w))))
                (block $lanesDone
                  (loop $lanes
                    (br_if $lanesDone (i32.eqz (local.get $mask)))
                    (local.set $p (i32.add (local.get $at) (i32.ctz (local.get $mask))))
                    (if (i32.gt_u (i32.load16_u (i32.add (local.get $keys) (i32.shl (local.get $p) (i32.const 1)))) (local.get $worst))
                      (then
                        (i32.store (local.get $heap) (local.get $p))
                        (call $siftDownU16 (local.get $keys) (local.get $heap) (local.get $k) (i32.const 0))
                        (local.set $worst (i32.load16_u (i32.add (local.get $keys) (i32.shl (i32.load (local.get $heap)) (i32.const 1)))))))
                    (local.set $mask (i32.and (local.get $mask) (i32.sub (local.get $mask) (i32.const 1))))
                    (br $lanes)))
                (local.set $w (i16x8.splat (local.get $worst)))
                (local.set $at (i32.add (local.get $at) (i32.const 8)))
                (br $vectors)))))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br $blocks))))

  ;; The $k best tokens of the $n float32 values at $keys (padded with -Infinity to a multiple of 16)
  ;; into $heap, as topKU16. Returns -1, or the token of the first NaN (the heap is then
  ;; unfinished). NaN lanes are flagged as well: f32x4.pmax (maxps) does not carry them into the fold.
  (func (export "topKF32") (param $keys i32) (param $n i32) (param $k i32) (param $heap i32) (result i32)
    (local $i i32) (local $end i32) (local $head i32) (local $worst f32) (local $v f32) (local $p i32) (local $at i32)
    (local $mask i32) (local $w v128) (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (block $built
      (loop $init
        (br_if $built (i32.ge_s (local.get $i) (local.get $k)))
        (local.set $v (f32.load (i32.add (local.get $keys) (i32.shl (local.get $i) (i32.const 2)))))
        (if (f32.ne (local.get $v) (local.get $v)) (then (return (local.get $i))))
        (i32.store (i32.add (local.get $heap) (i32.shl (local.get $i) (i32.const 2))) (local.get $i))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $init)))
    (local.set $i (i32.sub (i32.shr_u (local.get $k) (i32.const 1)) (i32.const 1)))
    (block $heapified
      (loop $heapify
        (br_if $heapified (i32.lt_s (local.get $i) (i32.const 0)))
        (call $siftDownF32 (local.get $keys) (local.get $heap) (local.get $k) (local.get $i))
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (br $heapify)))
    (local.set $worst (f32.load (i32.add (local.get $keys) (i32.shl (i32.load (local.get $heap)) (i32.const 2)))))
    (local.set $i (local.get $k))
    (local.set $head (i32.and (i32.add (local.get $k) (i32.const 15)) (i32.const -16)))
    (block $walked
      (loop $walk
        (br_if $walked (i32.ge_u (local.get $i) (local.get $head)))
        (local.set $v (f32.load (i32.add (local.get $keys) (i32.shl (local.get $i) (i32.const 2)))))
        (if (f32.gt (local.get $v) (local.get $worst))
          (then
            (i32.store (local.get $heap) (local.get $i))
            (call $siftDownF32 (local.get $keys) (local.get $heap) (local.get $k) (i32.const 0))
            (local.set $worst (f32.load (i32.add (local.get $keys) (i32.shl (i32.load (local.get $heap)) (i32.const 2))))))
          (else
            (if (f32.ne (local.get $v) (local.get $v)) (then (return (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $walk)))
    (local.set $end (i32.and (i32.add (local.get $n) (i32.const 15)) (i32.const -16)))
    (local.set $w (f32x4.splat (local.get $worst)))
    (block $scanned
      (loop $blocks
        (br_if $scanned (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $p (i32.add (local.get $keys) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $a (v128.load (local.get $p)))
        (local.set $b (v128.load offset=16 (local.get $p)))
        (local.set $c (v128.load offset=32 (local.get $p)))
        (local.set $d (v128.load offset=48 (local.get $p)))
        (if (v128.any_true (v128.or
              (f32x4.gt (f32x4.pmax (f32x4.pmax (local.get $a) (local.get $b)) (f32x4.pmax (local.get $c) (local.get $d))) (local.get $w))
              (v128.or (v128.or (f32x4.ne (local.get $a) (local.get $a)) (f32x4.ne (local.get $b) (local.get $b)))
                       (v128.or (f32x4.ne (local.get $c) (local.get $c)) (f32x4.ne (local.get $d) (local.get $d))))))
          (then
            (local.set $at (local.get $i))
            (block $vectorsDone
              (loop $vectors
                (br_if $vectorsDone (i32.ge_u (local.get $at) (i32.add (local.get $i) (i32.const 16))))
                (local.set $a (v128.load (i32.add (local.get $keys) (i32.shl (local.get $at) (i32.const 2)))))
                (local.set $mask (i32x4.bitmask (v128.or (f32x4.gt (local.get $a) (local.get $w)) (f32x4.ne (local.get $a) (local.get $a)))))
                (block $lanesDone
                  (loop $lanes
                    (br_if $lanesDone (i32.eqz (local.get $mask)))
                    (local.set $p (i32.add (local.get $at) (i32.ctz (local.get $mask))))
                    (local.set $v (f32.load (i32.add (local.get $keys) (i32.shl (local.get $p) (i32.const 2)))))
                    (if (f32.ne (local.get $v) (local.get $v)) (then (return (local.get $p))))
                    (if (f32.gt (local.get $v) (local.get $worst))
                      (then
                        (i32.store (local.get $heap) (local.get $p))
                        (call $siftDownF32 (local.get $keys) (local.get $heap) (local.get $k) (i32.const 0))
                        (local.set $worst (f32.load (i32.add (local.get $keys) (i32.shl (i32.load (local.get $heap)) (i32.const 2)))))))
                    (local.set $mask (i32.and (local.get $mask) (i32.sub (local.get $mask) (i32.const 1))))
                    (br $lanes)))
                (local.set $w (f32x4.splat (local.get $worst)))
                (local.set $at (i32.add (local.get $at) (i32.const 4)))
                (br $vectors)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $blocks)))
    (i32.const -1))

  ;; The $n uint16 codes at $src (padded to a multiple of 8) as float32 values at $dst:
  ;; fround((q + offset) * scale), with src/sampler/logits-kernels.ts's float64 operations in its order
  ;; (an exact conversion, an add, a multiply, one rounding to float32), so each value is the scalar one.
  ;; The codes convert as signed int32 (they are below 2^16): one instruction, where unsigned takes several.
  (func (export "dequantizeU16") (param $src i32) (param $dst i32) (param $n i32) (param $scale f64) (param $offset f64)
    (local $end i32) (local $s v128) (local $o v128) (local $q v128) (local $lo v128) (local $hi v128)
    (local.set $s (f64x2.splat (local.get $scale)))
    (local.set $o (f64x2.splat (local.get $offset)))
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 1))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        ;; Eight codes: two vectors of four int32, each two pairs of float64.
        (local.set $q (i32x4.extend_low_i16x8_u (v128.load (local.get $src))))
        (local.set $lo (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.add (f64x2.convert_low_i32x4_s (local.get $q)) (local.get $o)) (local.get $s))))
        (local.set $hi (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.add (f64x2.convert_low_i32x4_s
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $q) (local.get $q))) (local.get $o)) (local.get $s))))
        (v128.store (local.get $dst) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $lo) (local.get $hi)))
        (local.set $q (i32x4.extend_high_i16x8_u (v128.load (local.get $src))))
        (local.set $lo (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.add (f64x2.convert_low_i32x4_s (local.get $q)) (local.get $o)) (local.get $s))))
        (local.set $hi (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.add (f64x2.convert_low_i32x4_s
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $q) (local.get $q))) (local.get $o)) (local.get $s))))
        (v128.store offset=16 (local.get $dst) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $lo) (local.get $hi)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
        (br $next))))

  ;; The histogram of the $n uint16 codes at $keys (padded with zero codes to a multiple of 32) from
  ;; $floor on: the 65536 int32 entries at $counts are zeroed, then entry c counts the tokens with code c
  ;; for c >= $floor, and entry 65536 how many tokens that is (65537 is scratch). Meanwhile the ids of
  ;; the tokens with a code >= $nearFrom go to the int32 slots at $near in id order, at most $capacity
  ;; of them. Returns how many tokens had a code >= $nearFrom. $floor and $nearFrom are <= 65536.
  ;;
  ;; The counting is a scatter, which SIMD does not help: it runs scalar, two tokens at a time, without
  ;; a branch (a token below $floor increments a spare entry after the table, one per token of the
  ;; pair), so a floor amid the codes costs no mispredictions and a run of tokens below it no chain of
  ;; increments of one entry. SIMD compares skip the vectors with no code from $floor on, and find the
  ;; near ids, which are rare.
  (func (export "countU16") (param $keys i32) (param $n i32) (param $counts i32) (param $floor i32)
    (param $nearFrom i32) (param $near i32) (param $capacity i32) (result i32)
    (local $p i32) (local $end i32) (local $whole i32) (local $q i32) (local $at i32) (local $i i32)
    (local $mask i32) (local $kept i32) (local $ge i32) (local $counted i32) (local $f v128)
    (local.set $p (local.get $counts))
    (local.set $end (i32.add (local.get $counts) (i32.const 262144)))
    (block $zeroed
      (loop $zero
        (br_if $zeroed (i32.ge_u (local.get $p) (local.get $end)))
        (v128.store (local.get $p) (v128.const i32x4 0 0 0 0))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $zero)))
    (i64.store (local.get $end) (i64.const 0))
    ;; The near ids: vectors of eight codes; lanes past $n (padding) never qualify. (A bound of 65536,
    ;; which no code reaches, would splat to 0: it ends the scan at once.)
    (if (i32.gt_u (local.get $nearFrom) (i32.const 65535)) (then (local.set $i (local.get $n))))
    (local.set $f (i16x8.splat (local.get $nearFrom)))
    (block $scanned
      (loop $vectors
        (br_if $scanned (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $mask (i16x8.bitmask (i16x8.ge_u
          (v128.load (i32.add (local.get $keys) (i32.shl (local.get $i) (i32.const 1)))) (local.get $f))))
        (block $lanesDone
          (loop $lanes
            (br_if $lanesDone (i32.eqz (local.get $mask)))
            (local.set $at (i32.add (local.get $i) (i32.ctz (local.get $mask))))
            (br_if $lanesDone (i32.ge_u (local.get $at) (local.get $n)))
            (if (i32.lt_u (local.get $kept) (local.get $capacity))
              (then (i32.store (i32.add (local.get $near) (i32.shl (local.get $kept) (i32.const 2))) (local.get $at))))
            (local.set $kept (i32.add (local.get $kept) (i32.const 1)))
            (local.set $mask (i32.and (local.get $mask) (i32.sub (local.get $mask) (i32.const 1))))
            (br $lanes)))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $vectors)))
    ;; The counts: vectors of eight codes, skipped when none reaches $floor (at a low temperature,
    ;; nearly all), else counted in pairs; then the tokens past the last whole vector one by one.
    (local.set $f (i16x8.splat (local.get $floor)))
    (local.set $p (local.get $keys))
    (local.set $whole (i32.add (local.get $keys) (i32.shl (i32.and (local.get $n) (i32.const -8)) (i32.const 1))))
    (if (i32.gt_u (local.get $floor) (i32.const 65535)) (then (local.set $p (local.get $whole))))
    (block $counted
      (loop $blocks
        (br_if $counted (i32.ge_u (local.get $p) (local.get $whole)))
        (if (v128.any_true (i16x8.ge_u (v128.load (local.get $p)) (local.get $f)))
          (then
            (local.set $end (i32.add (local.get $p) (i32.const 16)))
            (loop $pairs
              (local.set $q (i32.load16_u (local.get $p)))
              (local.set $ge (i32.ge_u (local.get $q) (local.get $floor)))
              (local.set $counted (i32.add (local.get $counted) (local.get $ge)))
              (local.set $at (i32.add (local.get $counts) (i32.shl (select (local.get $q) (i32.const 65536) (local.get $ge)) (i32.const 2))))
              (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
              (local.set $q (i32.load16_u offset=2 (local.get $p)))
              (local.set $ge (i32.ge_u (local.get $q) (local.get $floor)))
              (local.set $counted (i32.add (local.get $counted) (local.get $ge)))
              (local.set $at (i32.add (local.get $counts) (i32.shl (select (local.get $q) (i32.const 65537) (local.get $ge)) (i32.const 2))))
              (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
              (local.set $p (i32.add (local.get $p) (i32.const 4)))
              (br_if $pairs (i32.lt_u (local.get $p) (local.get $end)))))
          (else (local.set $p (i32.add (local.get $p) (i32.const 16)))))
        (br $blocks)))
    (local.set $end (i32.add (local.get $keys) (i32.shl (local.get $n) (i32.const 1))))
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $q (i32.load16_u (local.get $p)))
        (if (i32.ge_u (local.get $q) (local.get $floor))
          (then
            (local.set $at (i32.add (local.get $counts) (i32.shl (local.get $q) (i32.const 2))))
            (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
            (local.set $counted (i32.add (local.get $counted) (i32.const 1)))))
        (local.set $p (i32.add (local.get $p) (i32.const 2)))
        (br $tail)))
    (i32.store (i32.add (local.get $counts) (i32.const 262144)) (local.get $counted))
    (local.get $kept))

  ;; The largest of the $n uint16 codes at $keys (padded with zero codes to a multiple of 32).
  (func (export "maxU16") (param $keys i32) (param $n i32) (result i32)
    (local $p i32) (local $end i32) (local $m v128)
    (local.set $p (local.get $keys))
    (local.set $end (i32.add (local.get $keys) (i32.shl (i32.and (i32.add (local.get $n) (i32.const 31)) (i32.const -32)) (i32.const 1))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $m (i16x8.max_u (local.get $m)
          (i16x8.max_u
            (i16x8.max_u (v128.load (local.get $p)) (v128.load offset=16 (local.get $p)))
            (i16x8.max_u (v128.load offset=32 (local.get $p)) (v128.load offset=48 (local.get $p))))))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br $next)))
    ;; The lanes' maximum: fold the halves three times.
    (local.set $m (i16x8.max_u (local.get $m) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $m) (local.get $m))))
    (local.set $m (i16x8.max_u (local.get $m) (i8x16.shuffle 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 (local.get $m) (local.get $m))))
    (local.set $m (i16x8.max_u (local.get $m) (i8x16.shuffle 2 3 0 1 2 3 0 1 2 3 0 1 2 3 0 1 (local.get $m) (local.get $m))))
    (i16x8.extract_lane_u 0 (local.get $m)))
)

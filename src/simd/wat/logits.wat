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
  ;; a branch (a token below $floor increments one of the two spare entries after the table, the
  ;; pair's own, which then hold how many of the tokens looked at were not counted), so a floor amid
  ;; the codes costs no mispredictions and a run of tokens below it no chain of increments of one
  ;; entry. SIMD skips the blocks of 32 codes with none from $floor on (at a low temperature, nearly
  ;; all), and finds the near ids, which are rare, as the top-k scan finds its candidates.
  (func (export "countU16") (param $keys i32) (param $n i32) (param $counts i32) (param $floor i32)
    (param $nearFrom i32) (param $near i32) (param $capacity i32) (result i32)
    (local $p i32) (local $end i32) (local $whole i32) (local $q i32) (local $at i32) (local $i i32)
    (local $mask i32) (local $kept i32) (local $looked i32) (local $counted i32) (local $f v128)
    (local.set $p (local.get $counts))
    (local.set $end (i32.add (local.get $counts) (i32.const 262144)))
    (block $zeroed
      (loop $zero
        (br_if $zeroed (i32.ge_u (local.get $p) (local.get $end)))
        (v128.store (local.get $p) (v128.const i32x4 0 0 0 0))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $zero)))
    (i64.store (local.get $end) (i64.const 0))
    ;; The near ids: blocks of 32 codes folded by max; in a block that holds one, each vector's lanes
    ;; (a bitmask) in order; lanes past $n (padding) never qualify. (A bound of 65536, which no code
    ;; reaches, would splat to 0: it ends the scan at once.)
    (if (i32.gt_u (local.get $nearFrom) (i32.const 65535)) (then (local.set $i (local.get $n))))
    (local.set $f (i16x8.splat (local.get $nearFrom)))
    (block $scanned
      (loop $blocks
        (br_if $scanned (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $p (i32.add (local.get $keys) (i32.shl (local.get $i) (i32.const 1))))
        (if (v128.any_true (i16x8.ge_u
              (i16x8.max_u
                (i16x8.max_u (v128.load (local.get $p)) (v128.load offset=16 (local.get $p)))
                (i16x8.max_u (v128.load offset=32 (local.get $p)) (v128.load offset=48 (local.get $p))))
              (local.get $f)))
          (then
            (local.set $end (i32.add (local.get $i) (i32.const 32)))
            (loop $vectors
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
              (br_if $vectors (i32.lt_u (local.get $i) (local.get $end)))))
          (else (local.set $i (i32.add (local.get $i) (i32.const 32)))))
        (br $blocks)))
    ;; The counts: whole blocks of 32 codes, skipped when none reaches $floor, else counted in pairs;
    ;; then the tokens past the last whole block one by one.
    (local.set $f (i16x8.splat (local.get $floor)))
    (local.set $p (local.get $keys))
    (local.set $whole (i32.add (local.get $keys) (i32.shl (i32.and (local.get $n) (i32.const -32)) (i32.const 1))))
    (block $counted
      (loop $blocks
        (br_if $counted (i32.ge_u (local.get $p) (local.get $whole)))
        (if (v128.any_true (i16x8.ge_u
              (i16x8.max_u
                (i16x8.max_u (v128.load (local.get $p)) (v128.load offset=16 (local.get $p)))
                (i16x8.max_u (v128.load offset=32 (local.get $p)) (v128.load offset=48 (local.get $p))))
              (local.get $f)))
          (then
            (local.set $looked (i32.add (local.get $looked) (i32.const 32)))
            (local.set $end (i32.add (local.get $p) (i32.const 64)))
            (loop $pairs
              (local.set $q (i32.load16_u (local.get $p)))
              (local.set $at (i32.add (local.get $counts) (i32.shl
                (select (local.get $q) (i32.const 65536) (i32.ge_u (local.get $q) (local.get $floor))) (i32.const 2))))
              (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
              (local.set $q (i32.load16_u offset=2 (local.get $p)))
              (local.set $at (i32.add (local.get $counts) (i32.shl
                (select (local.get $q) (i32.const 65537) (i32.ge_u (local.get $q) (local.get $floor))) (i32.const 2))))
              (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
              (local.set $p (i32.add (local.get $p) (i32.const 4)))
              (br_if $pairs (i32.lt_u (local.get $p) (local.get $end)))))
          (else (local.set $p (i32.add (local.get $p) (i32.const 64)))))
        (br $blocks)))
    (local.set $counted (i32.sub (local.get $looked) (i32.add
      (i32.load (i32.add (local.get $counts) (i32.const 262144)))
      (i32.load (i32.add (local.get $counts) (i32.const 262148))))))
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

  ;; The top-p cut of a code histogram (src/sampler/code-nucleus.ts's loops, operation for operation, so
  ;; the weights, the total and the cut are the JavaScript ones). At $reals, float64: offset, scale,
  ;; rmax (fround(vmax) - vmax at the largest code), temperature, fraction of the mass to reach; then
  ;; the tables hi[256], lo[256] of exp(-256 i step) and exp(-i step). The int32 histogram at $counts
  ;; holds $left tokens, the largest code being $max; $uncounted more lie below it, each lighter than
  ;; any counted one. Code c weighs w = hi[j >> 8] * lo[j & 255] * exp(-e), j = max - c,
  ;; e = (rmax - (fround(x) - x)) / temperature, x = (c + offset) * scale, exp(-e) by its Taylor series
  ;; (the caller makes sure |e| < 1e-3 for every code); the weights go to the float64 slots at
  ;; $weights. Returns the cut code (-1 when the cumulative mass stays below its target) and stores
  ;; at $ties how many of its tokens (lowest ids first) the nucleus takes.
  (func (export "cutCodes") (param $counts i32) (param $max i32) (param $left i32) (param $uncounted i32)
    (param $weights i32) (param $reals i32) (param $ties i32) (result i32)
    (local $c i32) (local $k i32) (local $j i32) (local $min i32) (local $m i32)
    (local $offset f64) (local $scale f64) (local $rmax f64) (local $t f64) (local $x f64) (local $e f64)
    (local $w f64) (local $total f64) (local $target f64) (local $before f64) (local $cumulative f64)
    (local.set $offset (f64.load (local.get $reals)))
    (local.set $scale (f64.load offset=8 (local.get $reals)))
    (local.set $rmax (f64.load offset=16 (local.get $reals)))
    (local.set $t (f64.load offset=24 (local.get $reals)))
    (local.set $c (local.get $max))
    (local.set $min (local.get $max))
    ;; The weights, from the largest code down, until every counted token is in or the tokens left
    ;; could not change the total's last place.
    (block $weighed
      (loop $codes
        (br_if $weighed (i32.le_s (local.get $left) (i32.const 0)))
        (local.set $k (i32.load (i32.add (local.get $counts) (i32.shl (local.get $c) (i32.const 2)))))
        (if (local.get $k)
          (then
            (local.set $j (i32.sub (local.get $max) (local.get $c)))
            (local.set $x (f64.mul (f64.add (f64.convert_i32_s (local.get $c)) (local.get $offset)) (local.get $scale)))
            (local.set $e (f64.div
              (f64.sub (local.get $rmax) (f64.sub (f64.promote_f32 (f32.demote_f64 (local.get $x))) (local.get $x)))
              (local.get $t)))
            (local.set $w (f64.mul
              (f64.mul
                (f64.load offset=40 (i32.add (local.get $reals) (i32.shl (i32.shr_u (local.get $j) (i32.const 8)) (i32.const 3))))
                (f64.load offset=2088 (i32.add (local.get $reals) (i32.shl (i32.and (local.get $j) (i32.const 255)) (i32.const 3)))))
              (f64.sub (f64.const 1) (f64.mul (local.get $e)
                (f64.sub (f64.const 1) (f64.mul (local.get $e)
                  (f64.sub (f64.const 0.5) (f64.div (local.get $e) (f64.const 6)))))))))
            (f64.store (i32.add (local.get $weights) (i32.shl (local.get $c) (i32.const 3))) (local.get $w))
            (local.set $total (f64.add (local.get $total) (f64.mul (f64.convert_i32_s (local.get $k)) (local.get $w))))
            (local.set $left (i32.sub (local.get $left) (local.get $k)))
            (local.set $min (local.get $c))
            (br_if $weighed (f64.lt
              (f64.mul (f64.convert_i32_s (i32.add (local.get $left) (local.get $uncounted))) (local.get $w))
              (f64.mul (local.get $total) (f64.const 0x1p-54))))))
        (local.set $c (i32.sub (local.get $c) (i32.const 1)))
        (br $codes)))
    ;; The cut: cumulative weights in sampling order (a code's tokens one at a time) up to the target.
    (local.set $target (f64.mul (f64.load offset=32 (local.get $reals)) (local.get $total)))
    (local.set $c (local.get $max))
    (block $found
      (loop $cut
        (br_if $found (i32.lt_s (local.get $c) (local.get $min)))
        (local.set $k (i32.load (i32.add (local.get $counts) (i32.shl (local.get $c) (i32.const 2)))))
        (if (local.get $k)
          (then
            (local.set $w (f64.load (i32.add (local.get $weights) (i32.shl (local.get $c) (i32.const 3)))))
            (local.set $cumulative (local.get $before))
            (local.set $m (i32.const 0))
            (block $taken
              (loop $tokens
                (br_if $taken (i32.ge_s (local.get $m) (local.get $k)))
                (br_if $taken (i32.and (i32.ne (local.get $m) (i32.const 0))
                  (i32.eqz (f64.lt (local.get $cumulative) (local.get $target)))))
                (local.set $cumulative (f64.add (local.get $cumulative) (local.get $w)))
                (local.set $m (i32.add (local.get $m) (i32.const 1)))
                (br $tokens)))
            (if (f64.ge (local.get $cumulative) (local.get $target))
              (then
                (i32.store (local.get $ties) (local.get $m))
                (return (local.get $c))))
            (local.set $before (local.get $cumulative))))
        (local.set $c (i32.sub (local.get $c) (i32.const 1)))
        (br $cut)))
    (i32.const -1))

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

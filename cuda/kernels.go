//go:build cuda

package cuda

import (
	_ "embed"
	"fmt"
	"sync"
)

// kernels.ptx is kernels/kernels.cu compiled by kernels/build.sh.
//
//go:embed kernels/kernels.ptx
var kernelsPTX []byte

// kernelSet is the kernels of one storage type.
type kernelSet struct {
	gather, biasAct, addLayerNorm, addLayerNormWarp, rows cuFunc
	// attention by compiled head size: headDim d runs the smallest that fits.
	attention [3]cuFunc
	// attentionTC is the tensor-core attention (fp16 and bf16 only) by
	// compiled head size, attentionTCSizes.
	attentionTC [2]cuFunc
	// attentionMMA is the mma.sync flash attention (fp16 and bf16 only) by
	// compiled head size, attentionMMASizes: the default where it fits.
	attentionMMA [3]cuFunc
}

var attentionMMASizes = [3]int{32, 64, 128}

var attentionTCSizes = [2]int{32, 64}

// attentionSizes are the head sizes attention is compiled for (D in
// kernels.cu); a head of d <= D runs the D kernel with the tail masked off.
var attentionSizes = [3]int{32, 64, 128}

// Thread counts of the launches: the row kernels are memory-bound loops over
// one row per block; attBQ is ATT_BQ in kernels.cu (one thread per query row).
const (
	rowThreads = 256
	attBQ      = 64
	tcThreads  = 128 // TC_WARPS warps of 32
	tcBQ       = 64  // TC_BQ: 16 query rows per warp
	mmaThreads = 128 // MMA_WARPS warps of 32
	mmaBQ      = 64  // MMA_BQ: 16 query rows per warp
	// lnWarpMaxCols is the widest row add_layernorm_warp keeps in registers
	// (64 * LN_MAXPAIRS); lnWarpRows is its rows per block (warps).
	lnWarpMaxCols = 1024
	lnWarpRows    = 4
	// ewMaxBlocks caps bias_act's grid; its blocks stride over the rows.
	ewMaxBlocks = 1 << 15
)

// loaded caches the module and kernels per precision: a process loads (and
// the driver JIT-compiles) the PTX once, however many backends it opens.
var (
	loadedMu sync.Mutex
	loaded   = map[Precision]*kernelSet{}
	loadedM  module
)

func loadKernels(p Precision) (module, *kernelSet, error) {
	loadedMu.Lock()
	defer loadedMu.Unlock()
	if ks, ok := loaded[p]; ok {
		return loadedM, ks, nil
	}
	m := loadedM
	if m == nil {
		var err error
		if m, err = loadModule(kernelsPTX); err != nil {
			return nil, nil, err
		}
		loadedM = m
	}
	var err error
	suf := map[Precision]string{FP32: "f32", FP16: "f16", BF16: "bf16"}[p]
	ks := &kernelSet{}
	get := func(dst *cuFunc, name string) {
		if err != nil {
			return
		}
		*dst, err = moduleFunction(m, name+"_"+suf)
	}
	get(&ks.gather, "gather")
	get(&ks.biasAct, "bias_act")
	get(&ks.addLayerNorm, "add_layernorm")
	get(&ks.addLayerNormWarp, "add_layernorm_warp")
	get(&ks.rows, "rows")
	for i, d := range attentionSizes {
		get(&ks.attention[i], fmt.Sprintf("attention_d%d", d))
	}
	if p != FP32 {
		for i, d := range attentionTCSizes {
			get(&ks.attentionTC[i], fmt.Sprintf("attention_tc_d%d", d))
		}
		for i, d := range attentionMMASizes {
			get(&ks.attentionMMA[i], fmt.Sprintf("attention_mma_d%d", d))
		}
	}
	if err != nil {
		return nil, nil, err
	}
	loaded[p] = ks
	return m, ks, nil
}

package ml

// AddRun is a Run that adds tensors: the residual connections of pre-norm
// layers (ModernBERT, Qwen3), where the sum itself flows on and only a copy
// of it is normalised.
type AddRun interface {
	// Add sets x = x + y, element by element; x and y have one shape.
	Add(x, y Tensor)
}

// GLURun is a Run with gated linear units: the MLPs of ModernBERT (GeGLU)
// and of Llama-style decoders (SwiGLU), whose up-projection makes an input
// half and a gate half.
type GLURun interface {
	// GLU returns act(x[:, :n]) * x[:, n:] for x of [rows, 2n]: a new
	// [rows, n] tensor (torch: input, gate = x.chunk(2, dim=-1);
	// act(input) * gate).
	GLU(x Tensor, act Activation) Tensor
}

// MeanRowsRun is a Run that averages the rows of each sequence: mean
// pooling over a packed batch.
type MeanRowsRun interface {
	// MeanRows returns one row per sequence s (offsets as in Attention;
	// no sequence empty): the sum of rows offsets[s]..offsets[s+1]-1 of x
	// divided by their count.
	MeanRows(x Tensor, offsets []int32) Tensor
}

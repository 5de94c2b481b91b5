using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace NasPrune.Evaluator.Recovery;

/// <summary>
/// A low-rank update of one projection, ΔW = scale · B·A with A [rank, in] and B [out, rank] (LoRA, Hu et al.
/// 2021). Initialised as PEFT does: A uniform in ±1/√in (kaiming_uniform with a = √5), B zero, so ΔW starts at
/// zero and training starts from the pruned model exactly. Parameters are float32 whatever the model's dtype.
/// </summary>
public sealed class LoraAdapter : IDisposable
{
    public Parameter A { get; }
    public Parameter B { get; }
    public double Scale { get; }
    public double Dropout { get; }
    /// <summary>Dropout on the adapter's input applies only while training.</summary>
    public bool Training { get; set; }
    public long InFeatures => A.shape[1];
    public long OutFeatures => B.shape[0];

    public LoraAdapter(long inFeatures, long outFeatures, int rank, double scale, double dropout, Generator generator, Device device)
    {
        double bound = 1 / Math.Sqrt(inFeatures);
        using var a = empty([rank, inFeatures], ScalarType.Float32).uniform_(-bound, bound, generator);
        A = new Parameter(a.to(device).clone());
        B = new Parameter(zeros([outFeatures, rank], ScalarType.Float32, device));
        Scale = scale;
        Dropout = dropout;
        dropoutGenerator = generator;
    }

    // Dropout masks come from the adapters' own seeded generator, not torch's global one: runs are reproducible
    // even when other code (another test, another model) draws random numbers in the same process.
    readonly Generator dropoutGenerator;

    /// <summary>The adapter's term of the projection's output, scale · (dropout(x)·Aᵀ)·Bᵀ, in x's dtype.</summary>
    public Tensor Delta(Tensor x)
    {
        using var scope = NewDisposeScope();
        // Explicit Scalars in `using` locals: an implicit one may be finalized while libtorch reads it (see KeptScalars).
        using var scale = Scale.ToScalar();
        var h = x.to(ScalarType.Float32);
        if (Training && Dropout > 0)
        {
            using var dropout = Dropout.ToScalar();
            using var keptShare = (1 - Dropout).ToScalar();
            var keep = rand(h.shape, dtype: ScalarType.Float32, generator: dropoutGenerator).to(h.device).ge(dropout);
            h = (h * keep).div(keptShare);
        }
        var delta = F.linear(F.linear(h, A), B).mul(scale);
        return delta.to(x.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>ΔW = scale · B·A [out, in], float32, without gradient.</summary>
    public Tensor WeightDelta()
    {
        using var _ = no_grad();
        using var scale = Scale.ToScalar();
        return B.mm(A).mul_(scale);
    }

    public void Dispose()
    {
        A.Dispose();
        B.Dispose();
    }
}

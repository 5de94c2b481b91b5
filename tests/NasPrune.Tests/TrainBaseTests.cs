using NasPrune.Evaluator.Training;
using Xunit;

namespace NasPrune.Tests;

/// <summary>The base-model trainer's schedule (`nasprune train-base` end to end is TrainBaseCliTests').</summary>
public sealed class TrainBaseTests
{
    [Fact]
    public void LearningRateWarmsUpThenDecaysToTheFloor()
    {
        var t = new BaseModelTrainer(new TrainBaseOptions { Steps = 100, WarmupSteps = 10, LearningRate = 1e-3, MinLrRatio = 0.1 });
        Assert.Equal(1e-4, t.LearningRateAt(0), 12);
        Assert.Equal(1e-3, t.LearningRateAt(9), 12);
        Assert.Equal(1e-3, t.LearningRateAt(10), 12);
        Assert.Equal(0.55e-3, t.LearningRateAt(55), 12);  // halfway through the cosine
        Assert.Equal(1e-4, t.LearningRateAt(100), 12);
    }
}

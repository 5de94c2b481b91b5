using System.Diagnostics;
using NasPrune.Common;

using NasPrune.Search;

namespace NasPrune.Cli.Bench;

/// <summary>
/// Speed of the search algorithms themselves, without a predictor: an evolutionary search of about
/// <c>candidates</c> candidates and a default shrinking run, both scored by a cheap synthetic fitness whose own
/// time is measured and subtracted. The figure the issue asks for is <see cref="SearchBenchResult.SearchSeconds"/>
/// for 50,000 candidates (goal: under 5 s).
/// </summary>
public static class SearchBench
{
    /// <param name="Candidates">Candidates the evolution bred or seeded (generations × population, roughly).</param>
    /// <param name="Evaluated">Distinct candidates the fitness scored.</param>
    /// <param name="TotalSeconds">Wall time of the evolution.</param>
    /// <param name="FitnessSeconds">Of which inside the synthetic fitness (architecture → score).</param>
    /// <param name="SearchSeconds">Total minus fitness: the search's own time.</param>
    /// <param name="CandidatesPerSecond">Candidates per second of search time.</param>
    /// <param name="ShrinkSeconds">A default <see cref="SpaceShrinker"/> run (3 rounds × <c>shrinkSampleSize</c> samples), fitness excluded.</param>
    /// <param name="ShrinkSampled">Architectures the shrinker sampled and scored.</param>
    /// <param name="InitialBest">Best synthetic score of the first generation (a sanity check that the search improves it).</param>
    /// <param name="FinalBest">Best synthetic score found.</param>
    public sealed record SearchBenchResult(int Population, int Generations, int Candidates, int Evaluated, double TotalSeconds,
        double FitnessSeconds, double SearchSeconds, double CandidatesPerSecond, double ShrinkSeconds, int ShrinkSampled,
        double InitialBest, double FinalBest);

    /// <summary>Runs the benchmark on a space (e.g. the embedded model's) at a budget band, deterministic for a seed.</summary>
    public static SearchBenchResult Run(PruningSpace space, int candidates = 50_000, int population = 500, BudgetBand? band = null,
        int shrinkSampleSize = 2000, long seed = 1234)
    {
        if (candidates < population) throw new UserError($"search bench: {candidates} candidates is less than one population of {population}");
        band ??= new BudgetBand(0.75, 0.85);
        var o = new EvolutionOptions(Population: population, Elites: Math.Max(1, population / 50), Seed: seed);
        o = o with { Generations = (int)Math.Ceiling((double)(candidates - population) / (population - o.Elites)) };
        var fitnessWatch = new Stopwatch();
        var fitness = SyntheticFitness(space, fitnessWatch);

        var total = Stopwatch.StartNew();
        var result = new EvolutionarySearch(space).Run(o, LayerBounds.Full(space.LayerCount), band, fitness, []);
        total.Stop();
        double searchSeconds = total.Elapsed.TotalSeconds - fitnessWatch.Elapsed.TotalSeconds;

        fitnessWatch.Reset();
        var shrinkWatch = Stopwatch.StartNew();
        var shrink = new SpaceShrinker(space).Shrink(new ShrinkOptions(SampleSize: shrinkSampleSize, Seed: seed), LayerBounds.Full(space.LayerCount), band, fitness, []);
        shrinkWatch.Stop();

        return new SearchBenchResult(o.Population, o.Generations, result.Candidates, result.Evaluated, total.Elapsed.TotalSeconds,
            total.Elapsed.TotalSeconds - searchSeconds, searchSeconds, result.Candidates / searchSeconds,
            shrinkWatch.Elapsed.TotalSeconds - fitnessWatch.Elapsed.TotalSeconds, shrink.Rounds.Sum(r => r.Sampled),
            result.Generations[0].Best, result.Top[0].Score);
    }

    /// <summary>
    /// A separable stand-in for a predictor: per layer, a weighted squared distance of the head and FFN keep ratios
    /// from 1, heavier on early layers, timed by <paramref name="watch"/>.
    /// </summary>
    public static Func<IReadOnlyList<Architecture>, double[]> SyntheticFitness(PruningSpace space, Stopwatch watch) => batch =>
    {
        watch.Start();
        var config = space.Base;
        var scores = new double[batch.Count];
        for (int k = 0; k < batch.Count; k++)
        {
            double s = 0;
            for (int i = 0; i < config.NumHiddenLayers; i++)
            {
                var l = batch[k].Layers[i];
                var stored = config.Layers[i];
                double h = stored.Heads > 0 ? (double)l.Heads / stored.Heads : 0, f = stored.Ffn > 0 ? (double)l.Ffn / stored.Ffn : 0;
                double weight = 1.0 + (double)(config.NumHiddenLayers - i) / config.NumHiddenLayers;
                s += weight * ((1 - h) * (1 - h) + 0.7 * (1 - f) * (1 - f));
            }
            scores[k] = s;
        }
        watch.Stop();
        return scores;
    };
}

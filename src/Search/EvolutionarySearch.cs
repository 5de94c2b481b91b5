using NasPrune.Common;

namespace NasPrune.Search;

/// <summary>
/// One generation's figures: scores of its members (best, mean, median, worst), the best score seen so far,
/// how many members are distinct, and how many new candidates the fitness scored for it.
/// </summary>
public sealed record GenerationStats(int Generation, double Best, double Mean, double Median, double Worst, double BestSoFar,
    int Distinct, int NewlyEvaluated);

/// <summary>
/// What <see cref="EvolutionarySearch.Run"/> found: the <see cref="EvolutionOptions.TopK"/> best distinct
/// architectures ever scored (best first), per-generation figures (generation 0 is the initial population),
/// how many distinct architectures the fitness scored, and how many candidates were bred or seeded in all
/// (duplicates of already scored ones are not scored again).
/// </summary>
public sealed record EvolutionResult(IReadOnlyList<ScoredArchitecture> Top, IReadOnlyList<GenerationStats> Generations,
    int Evaluated, int Candidates);

/// <summary>
/// A genetic search over the discrete pruning space for the architecture with the lowest predicted metric at a
/// parameter budget. Genomes are grid indices per layer (heads in whole GQA groups, FFN in 1/FfnSteps steps, see
/// <see cref="SearchGrid"/>); parents are chosen by tournament or truncation, children mix two parents layer by
/// layer (uniform crossover), mutate by grid steps or redraws inside the layer bounds, and are repaired onto the
/// budget band, so every candidate the fitness sees is on the grid, inside the bounds and in the band. The best
/// <see cref="EvolutionOptions.Elites"/> survive unchanged. The fitness scores a whole generation at once (one
/// predictor batch) and is never asked twice about the same architecture.
/// Deterministic for a seed: one <see cref="Random"/>, ordered collections only, ties broken by genome.
/// </summary>
public sealed class EvolutionarySearch(PruningSpace space)
{
    sealed class Member(int[] genome, string key, double score)
    {
        public int[] Genome { get; } = genome;
        public string Key { get; } = key;
        public double Score { get; set; } = score;
    }

    /// <param name="o">Search settings.</param>
    /// <param name="bounds">Per-layer keep-ratio bounds every candidate stays inside (e.g. a shrunken space).</param>
    /// <param name="band">Kept parameter share every candidate lies in.</param>
    /// <param name="fitness">Predicted metric per architecture, lower is better, for a batch at once; NaN counts as worst.</param>
    /// <param name="seeds">
    /// Architectures the first generation starts from (e.g. the best measured ones), brought inside the bounds and
    /// the band first; the rest of the first generation is sampled. Beyond <see cref="EvolutionOptions.Population"/>
    /// the extra seeds are ignored.
    /// </param>
    public EvolutionResult Run(EvolutionOptions o, LayerBounds bounds, BudgetBand band,
        Func<IReadOnlyList<Architecture>, double[]> fitness, IReadOnlyList<Architecture> seeds)
    {
        o.Validate();
        var grid = new SearchGrid(space, bounds, band);
        var random = new Random(unchecked((int)o.Seed));
        var scores = new Dictionary<string, double>(StringComparer.Ordinal);
        var evaluated = new List<Member>();
        var generations = new List<GenerationStats>();
        int candidates = 0;
        double bestSoFar = double.PositiveInfinity;

        // Scores the members whose architecture is new, in one batch; the others take their known score.
        int Evaluate(List<Member> members)
        {
            var fresh = new List<Member>();
            var inBatch = new HashSet<string>(StringComparer.Ordinal);
            foreach (var m in members)
                if (!scores.ContainsKey(m.Key) && inBatch.Add(m.Key)) fresh.Add(m);
            if (fresh.Count > 0)
            {
                var predicted = fitness(fresh.Select(m => grid.ToArchitecture(m.Genome)).ToArray());
                if (predicted.Length != fresh.Count)
                    throw new InvalidOperationException($"fitness returned {predicted.Length} scores for {fresh.Count} architectures");
                for (int k = 0; k < fresh.Count; k++)
                {
                    double s = double.IsNaN(predicted[k]) ? double.PositiveInfinity : predicted[k];
                    scores[fresh[k].Key] = s;
                    evaluated.Add(new Member(fresh[k].Genome, fresh[k].Key, s));
                    bestSoFar = Math.Min(bestSoFar, s);
                }
            }
            foreach (var m in members) m.Score = scores[m.Key];
            return fresh.Count;
        }

        var population = InitialPopulation(o, grid, band, bounds, seeds, random);
        candidates += population.Count;
        int newly = Evaluate(population);
        Sort(population);
        generations.Add(Stats(0, population, bestSoFar, newly));

        for (int generation = 1; generation <= o.Generations; generation++)
        {
            var next = population.Take(o.Elites).ToList();
            var present = new HashSet<string>(next.Select(m => m.Key), StringComparer.Ordinal);
            var children = new List<Member>();
            while (next.Count + children.Count < o.Population)
            {
                var child = Breed(o, grid, population, random);
                string key = SearchGrid.Key(child);
                for (int retry = 0; retry < o.DuplicateRetries && (scores.ContainsKey(key) || present.Contains(key)); retry++)
                {
                    Mutate(child, grid, o, random, force: true);
                    grid.Repair(child, random);
                    key = SearchGrid.Key(child);
                }
                present.Add(key);
                children.Add(new Member(child, key, double.NaN));
            }
            candidates += children.Count;
            newly = Evaluate(children);
            next.AddRange(children);
            Sort(next);
            population = next;
            generations.Add(Stats(generation, population, bestSoFar, newly));
        }

        var top = evaluated.OrderBy(m => m.Score).ThenBy(m => m.Key, StringComparer.Ordinal).Take(o.TopK)
            .Select(m => new ScoredArchitecture(grid.ToArchitecture(m.Genome), m.Score)).ToArray();
        return new EvolutionResult(top, generations, evaluated.Count, candidates);
    }

    List<Member> InitialPopulation(EvolutionOptions o, SearchGrid grid, BudgetBand band, LayerBounds bounds,
        IReadOnlyList<Architecture> seeds, Random random)
    {
        var members = new List<Member>();
        var present = new HashSet<string>(StringComparer.Ordinal);
        void Add(int[] genome)
        {
            if (members.Count >= o.Population) return;
            string key = SearchGrid.Key(genome);
            if (present.Add(key)) members.Add(new Member(genome, key, double.NaN));
        }
        foreach (var seed in seeds)
        {
            var genome = grid.EncodeClamped(seed);
            grid.Repair(genome, random);
            Add(genome);
        }
        if (members.Count < o.Population)
        {
            var sampled = new ArchitectureSampler(space).Sample(new SamplerOptions(band, o.Population - members.Count, o.Seed, bounds,
                MaxAttemptsPerCandidate: SpaceShrinker.SamplerAttempts));
            foreach (var a in sampled)
            {
                var genome = grid.EncodeClamped(a);
                grid.Repair(genome, random);
                Add(genome);
            }
        }
        // A small bounded space may hold fewer distinct architectures than the sampler was asked for.
        for (int attempt = 0; members.Count < o.Population && attempt < 20 * o.Population; attempt++) Add(grid.RandomGenome(random));
        if (members.Count < 2)
            throw new UserError("the layer bounds and budget band admit fewer than 2 distinct architectures: nothing to search");
        return members;
    }

    static int[] Breed(EvolutionOptions o, SearchGrid grid, List<Member> sorted, Random random)
    {
        var child = (int[])Select(o, sorted, random).Genome.Clone();
        if (random.NextDouble() < o.CrossoverRate)
        {
            var other = Select(o, sorted, random).Genome;
            // Per-layer uniform crossover: a layer's heads and FFN travel together (they were tuned together).
            for (int g = 0; g < child.Length; g += 2)
                if (random.Next(2) == 1) { child[g] = other[g]; child[g + 1] = other[g + 1]; }
        }
        Mutate(child, grid, o, random, force: false);
        grid.Repair(child, random);
        return child;
    }

    /// <summary>Population is sorted best first, so a tournament is the smallest of the drawn indices.</summary>
    static Member Select(EvolutionOptions o, List<Member> sorted, Random random)
    {
        if (o.Selection == ParentSelection.Truncation)
            return sorted[random.Next(Math.Max(1, (int)Math.Ceiling(o.TruncationShare * sorted.Count)))];
        int best = random.Next(sorted.Count);
        for (int k = 1; k < o.TournamentSize; k++) best = Math.Min(best, random.Next(sorted.Count));
        return sorted[best];
    }

    /// <summary>Each gene with the mutation rate: a ±1 grid step or (reset rate) a redraw in its range; <paramref name="force"/>: at least one step.</summary>
    static void Mutate(int[] genome, SearchGrid grid, EvolutionOptions o, Random random, bool force)
    {
        bool changed = false;
        for (int g = 0; g < genome.Length; g++)
        {
            if (grid.Lo(g) == grid.Hi(g) || random.NextDouble() >= o.MutationRate) continue;
            int before = genome[g];
            genome[g] = random.NextDouble() < o.ResetRate ? random.Next(grid.Lo(g), grid.Hi(g) + 1) : Step(genome[g], grid.Lo(g), grid.Hi(g), random);
            changed |= genome[g] != before;
        }
        if (changed || !force) return;
        var mutable = Enumerable.Range(0, genome.Length).Where(g => grid.Lo(g) < grid.Hi(g)).ToArray();
        if (mutable.Length == 0) return;
        int gene = mutable[random.Next(mutable.Length)];
        genome[gene] = Step(genome[gene], grid.Lo(gene), grid.Hi(gene), random);
    }

    static int Step(int value, int lo, int hi, Random random)
    {
        int direction = random.Next(2) == 0 ? -1 : 1;
        if (value + direction < lo || value + direction > hi) direction = -direction;
        return value + direction;
    }

    static void Sort(List<Member> members) =>
        members.Sort((a, b) => a.Score != b.Score ? a.Score.CompareTo(b.Score) : string.CompareOrdinal(a.Key, b.Key));

    static GenerationStats Stats(int generation, List<Member> sorted, double bestSoFar, int newly)
    {
        return new GenerationStats(generation, sorted[0].Score, sorted.Average(m => m.Score), sorted[sorted.Count / 2].Score,
            sorted[^1].Score, bestSoFar, sorted.Select(m => m.Key).Distinct().Count(), newly);
    }
}

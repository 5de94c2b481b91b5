using DuckDB.NET.Data;
using NasPrune.Common;
using NasPrune.Common.Pairs;
using NasPrune.Search;
using Xunit;

namespace NasPrune.Tests;

public sealed class PairStoreTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "nasprune-pairs-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    static PairRecord Row(int i, bool withOptional) => new()
    {
        ArchId = $"id{i:D10}",
        BaseModel = "bc7c44b5d641",
        Architecture = $"{{\"base\":\"bc7c44b5d641\",\"layers\":[{{\"keep\":true,\"heads\":{i},\"ffn\":16}}]}}",
        HeadRatio = [0.5, 0.25 * i, 1],
        FfnRatio = [1, 0.0625, 0],
        LayerKept = [1, 1, 0],
        Params = 7_000_000_000L + i,
        ParamRatio = 0.8 + i * 1e-3,
        FlopsPerToken = 1.5e7 * i,
        FlopsRatio = 0.75,
        WikiText2Nll = 6.5 + i,
        WikiText2Ppl = Math.Exp(6.5 + i),
        WikiText2Kl = withOptional ? 0.375 : null,
        KlTopK = withOptional ? 64 : null,
        PtbNll = withOptional ? 7.25 : null,
        PtbPpl = withOptional ? Math.Exp(7.25) : null,
        ZeroShotTask = withOptional ? "piqa" : null,
        ZeroShotAcc = withOptional ? 0.625 : null,
        Criterion = "activation",
        CalibrationSeed = 1234,
        EvalSplit = "validation",
        EvalWindows = 64,
        EvalSeqLen = 256,
        WindowSeed = 99,
        SampleSeed = 7,
        SampleIndex = i,
        ShardIndex = 1,
        ShardCount = 3,
        Source = "sample",
        NasPruneVersion = "0.1.0",
        WallSeconds = 1.25,
        ForwardSeconds = 1.2,
    };

    [Fact]
    public void EveryColumnSurvivesAParquetRoundTrip()
    {
        var rows = new[] { Row(1, true), Row(2, false) };
        string path = Path.Combine(dir, "part-00000.parquet");
        PairStore.WriteFile(path, rows);
        var back = PairStore.ReadFile(path).Rows;
        Assert.Equal(2, back.Count);
        foreach (var (a, b) in rows.Zip(back))
        {
            foreach (var p in typeof(PairRecord).GetProperties())
            {
                object? x = p.GetValue(a), y = p.GetValue(b);
                if (x is List<double> lx) Assert.Equal(lx, (List<double>)y!);
                else Assert.Equal(x, y);
            }
        }
    }

    [Fact]
    public void DuckDbReadsTheColumnsAsWritten()
    {
        string path = Path.Combine(dir, "part-00000.parquet");
        PairStore.WriteFile(path, [Row(1, true), Row(2, false)]);
        using var connection = new DuckDBConnection("DataSource=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT arch_id, len(head_ratio), list_sum(head_ratio), params, wikitext2_nll, ptb_nll, zeroshot_task, wikitext2_kl, kl_top_k " +
                              $"FROM read_parquet('{path}') ORDER BY sample_index";
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read());
        Assert.Equal("id0000000001", reader.GetString(0));
        Assert.Equal(3L, Convert.ToInt64(reader.GetValue(1)));
        Assert.Equal(1.75, reader.GetDouble(2), 12);
        Assert.Equal(7_000_000_001L, reader.GetInt64(3));
        Assert.Equal(7.5, reader.GetDouble(4));
        Assert.Equal(7.25, reader.GetDouble(5));
        Assert.Equal("piqa", reader.GetString(6));
        Assert.Equal(0.375, reader.GetDouble(7));
        Assert.Equal(64, Convert.ToInt32(reader.GetValue(8)));
        Assert.True(reader.Read());
        Assert.True(reader.IsDBNull(5));
        Assert.True(reader.IsDBNull(6));
        Assert.True(reader.IsDBNull(7));
        Assert.True(reader.IsDBNull(8));
        Assert.False(reader.Read());
    }

    [Fact]
    public void AShardWriterKeepsEveryRowAndAResumeLeavesTheFilesOfAnUninterruptedRun()
    {
        string shard = Path.Combine(dir, ShardSpec.Single.DirectoryName);
        var writer = new ShardWriter(shard, rowsPerPart: 2);
        for (int i = 0; i < 5; i++) writer.Add(Row(i, false));
        Assert.Equal(3, Directory.GetFiles(shard, "*.parquet").Length);
        // A crash mid-write leaves at most a hidden temporary file (the rename never happened): readers skip it.
        File.WriteAllBytes(Path.Combine(shard, ".part-00003.parquet.deadbeef.tmp"), [0x50, 0x41, 0x52, 0x31, 1, 2]);
        var resumed = new ShardWriter(shard, rowsPerPart: 2);
        Assert.EndsWith("part-00002.parquet", resumed.CurrentPath); // one row in it: continued, not a new part
        resumed.Add(Row(5, false));
        resumed.Add(Row(6, false));
        var ids = PairStore.ReadAll(dir).Select(r => r.ArchId).ToList();
        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"id{i:D10}"), ids.Order());
        Assert.Equal(ids.Count, PairStore.ExistingIds(dir).Count);

        // The same seven rows written without a break: the same part files, byte for byte.
        string straight = Path.Combine(dir, "straight");
        var once = new ShardWriter(straight, rowsPerPart: 2);
        for (int i = 0; i < 7; i++) once.Add(Row(i, false));
        var expected = Directory.GetFiles(straight, "*.parquet").Order().ToList();
        var actual = Directory.GetFiles(shard, "*.parquet").Order().ToList();
        Assert.Equal(expected.Select(Path.GetFileName), actual.Select(Path.GetFileName));
        for (int k = 0; k < expected.Count; k++) Assert.Equal(File.ReadAllBytes(expected[k]), File.ReadAllBytes(actual[k]));
    }

    [Fact]
    public async Task CorruptForeignAndMissingInputsAreNamedErrors()
    {
        var missing = Assert.Throws<UserError>(() => PairStore.ReadAll(Path.Combine(dir, "nothing")));
        Assert.Contains("not found", missing.Message);
        Directory.CreateDirectory(dir);
        var empty = Assert.Throws<UserError>(() => PairStore.ReadAll(dir));
        Assert.Contains("no pair files", empty.Message);

        string corrupt = Path.Combine(dir, "part-00000.parquet");
        File.WriteAllText(corrupt, "this is not parquet");
        var e1 = Assert.Throws<UserError>(() => PairStore.ReadAll(dir));
        Assert.Contains(corrupt, e1.Message);
        Assert.Equal("this is not parquet", File.ReadAllText(corrupt)); // never rewritten

        File.Delete(corrupt);
        string foreign = Path.Combine(dir, "other.parquet");
        await Parquet.Serialization.ParquetSerializer.SerializeAsync(new[] { new Foreign { Name = "x", Value = 1 } }, foreign);
        var e2 = Assert.Throws<UserError>(() => PairStore.ReadAll(dir));
        Assert.Contains(foreign, e2.Message);
        Assert.Contains("not a NasPrune pair shard", e2.Message);
    }

    /// <summary>The pair columns every version wrote: a file of these is what a shard from before KL looks like.</summary>
    sealed class BeforeKl
    {
        [System.Text.Json.Serialization.JsonPropertyName("arch_id")] public string ArchId { get; set; } = "";
        [System.Text.Json.Serialization.JsonPropertyName("base_model")] public string BaseModel { get; set; } = "";
        [System.Text.Json.Serialization.JsonPropertyName("architecture")] public string Architecture { get; set; } = "";
        [System.Text.Json.Serialization.JsonPropertyName("head_ratio")] public List<double> HeadRatio { get; set; } = [];
        [System.Text.Json.Serialization.JsonPropertyName("ffn_ratio")] public List<double> FfnRatio { get; set; } = [];
        [System.Text.Json.Serialization.JsonPropertyName("layer_kept")] public List<double> LayerKept { get; set; } = [];
        [System.Text.Json.Serialization.JsonPropertyName("params")] public long Params { get; set; }
        [System.Text.Json.Serialization.JsonPropertyName("param_ratio")] public double ParamRatio { get; set; }
        [System.Text.Json.Serialization.JsonPropertyName("wikitext2_nll")] public double WikiText2Nll { get; set; }
    }

    [Fact]
    public async Task ShardsWrittenBeforeKlReadWithoutIt()
    {
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "part-00000.parquet");
        await Parquet.Serialization.ParquetSerializer.SerializeAsync(new[] { new BeforeKl { ArchId = "old", HeadRatio = [1], FfnRatio = [1], LayerKept = [1], WikiText2Nll = 5.5 } }, path);
        var row = Assert.Single(PairStore.ReadAll(dir));
        Assert.Equal(5.5, row.WikiText2Nll);
        Assert.Null(row.WikiText2Kl);
        Assert.Null(row.KlTopK);
    }

    sealed class Foreign
    {
        public string Name { get; set; } = "";
        public int Value { get; set; }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    public void ShardsPartitionTheStream(int workers)
    {
        var shards = Enumerable.Range(0, workers).Select(i => ShardSpec.Parse($"{i}/{workers}")).ToList();
        for (int p = 0; p < 200; p++) Assert.Equal(1, shards.Count(s => s.Owns(p)));
    }

    [Theory]
    [InlineData("3/3")]
    [InlineData("-1/2")]
    [InlineData("1")]
    [InlineData("a/b")]
    [InlineData("0/0")]
    public void BadShardSpecsAreUserErrors(string spec) =>
        Assert.Contains("--shard", Assert.Throws<UserError>(() => ShardSpec.Parse(spec)).Message);

    [Fact]
    public void FlopBandsAreRespected()
    {
        var config = ModelConfig.Uniform(vocab: 64, hidden: 32, layers: 6, heads: 8, kvHeads: 2, ffn: 96, maxPositions: 32);
        var sampler = new ArchitectureSampler(new PruningSpace(config, "base"));
        var band = new BudgetBand(0.6, 0.75);
        var sample = sampler.Sample(new SamplerOptions(band, 40, Seed: 5, Metric: BudgetMetric.Flops));
        Assert.Equal(40, sample.Count);
        Assert.All(sample, a => Assert.True(band.Contains(sampler.KeptShare(a, BudgetMetric.Flops))));
        // FLOP and parameter shares differ (embeddings count in one, attention's sequence term in the other).
        Assert.Contains(sample, a => Math.Abs(sampler.KeptShare(a, BudgetMetric.Params) - sampler.KeptShare(a, BudgetMetric.Flops)) > 1e-3);
    }
}

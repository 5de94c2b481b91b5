using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NasPrune.Common;
using NasPrune.Evaluator.Checkpoints;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace NasPrune.Tests;

public sealed class SafeTensorsTests : IDisposable
{
    // Every test gets its own directory, removed afterwards, and a dispose scope that frees every tensor
    // created during the test (loaded ones included: the loader moves them into the caller's scope).
    private readonly string _dir = Directory.CreateTempSubdirectory("nasprune-safetensors-").FullName;
    private readonly DisposeScope _scope = NewDisposeScope();

    public void Dispose()
    {
        _scope.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string PathIn(string name) => Path.Combine(_dir, name);

    /// <summary>A tensor's raw bytes, so comparisons are bit-exact (NaN payloads and -0 included).</summary>
    private static byte[] Bytes(Tensor t) => t.cpu().contiguous().bytes.ToArray();

    private static Dictionary<string, Tensor> MixedTensors() => new()
    {
        ["vec.f32"] = randn(7),
        ["cube.f16"] = randn(2, 3, 4).to_type(ScalarType.Float16),
        ["mat.bf16"] = randn(3, 5).to_type(ScalarType.BFloat16),
        ["scalar.f32"] = tensor(3.25f),
        ["empty.f32"] = zeros(0, 4),
        ["ids.i64"] = tensor(new long[] { -1, 0, long.MaxValue }),
        ["mask.bool"] = tensor(new[] { true, false, true }),
        ["bytes.u8"] = tensor(new byte[] { 0, 7, 255 }),
        ["ints.i32"] = tensor(new[] { int.MinValue, 5 }),
        ["doubles.f64"] = tensor(new[] { Math.PI, -0.0 }),
        // Transposed, so not contiguous: the writer must copy it into row-major order.
        ["transposed.f32"] = arange(6, dtype: ScalarType.Float32).reshape(2, 3).t(),
    };

    private static void AssertSameTensors(IReadOnlyDictionary<string, Tensor> expected, IReadOnlyDictionary<string, Tensor> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, want) in expected)
        {
            var got = actual[name];
            Assert.Equal(want.dtype, got.dtype);
            Assert.Equal(want.shape, got.shape);
            Assert.Equal(Bytes(want), Bytes(got));
        }
    }

    [Fact]
    public void SaveThenLoad_GivesBitIdenticalTensorsOfEveryDtypeAndShape()
    {
        var tensors = MixedTensors();
        string path = PathIn("model.safetensors");

        SafeTensorsFile.Save(path, tensors);
        var loaded = SafeTensorsFile.Load(path);

        AssertSameTensors(tensors, loaded);
        Assert.Equal(new[] { "model.safetensors" }, Directory.GetFiles(_dir).Select(Path.GetFileName));
        Assert.Equal("pt", SafeTensorsFile.ReadMetadata(path)["format"]);
    }

    [Fact]
    public void Save_PadsHeaderSoDataStartsEightByteAligned_AndKeepsEachTensorAligned()
    {
        string path = PathIn("model.safetensors");
        SafeTensorsFile.Save(path, MixedTensors());

        byte[] file = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        Assert.Equal(0, (8 + headerLength) % 8);
        Assert.Equal((byte)'{', file[8]);
        string headerText = Encoding.UTF8.GetString(file, 8, (int)headerLength);
        Assert.StartsWith("{\"__metadata__\":{\"format\":\"pt\"}", headerText);
        Assert.EndsWith("}", headerText.TrimEnd(' '));

        foreach (var (name, info) in SafeTensorsFile.ReadHeader(path))
            Assert.True(info.Begin % SafeTensorsDType.ElementSize(info.DType) == 0, $"{name} at {info.Begin} is misaligned for {info.DType}");
    }

    [Fact]
    public void Save_IsDeterministic_WhateverTheDictionaryOrder()
    {
        var tensors = MixedTensors();
        var reversed = tensors.Reverse().ToDictionary();
        string first = PathIn("first.safetensors"), second = PathIn("second.safetensors");

        SafeTensorsFile.Save(first, tensors);
        SafeTensorsFile.Save(second, reversed);

        Assert.Equal(SHA256.HashData(File.ReadAllBytes(first)), SHA256.HashData(File.ReadAllBytes(second)));
    }

    [Fact]
    public void Save_OverwritesAnExistingFileInPlace()
    {
        string path = PathIn("model.safetensors");
        SafeTensorsFile.Save(path, new Dictionary<string, Tensor> { ["old"] = ones(100) });
        SafeTensorsFile.Save(path, new Dictionary<string, Tensor> { ["new"] = ones(2) });

        Assert.Equal(new[] { "new" }, SafeTensorsFile.ReadHeader(path).Keys);
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Fact]
    public void Load_ReadsAHandBuiltFile()
    {
        // Written byte by byte from the format description, independently of SafeTensorsFile.Save:
        // no padding, metadata last, tensors not in offset order.
        var data = new List<byte>();
        foreach (float f in new[] { 1f, 2f, -3.5f, 0.25f })
            data.AddRange(BitConverter.GetBytes(f));                  // w: F32 [2,2] at [0,16)
        foreach (long l in new[] { 42L, -7L })
            data.AddRange(BitConverter.GetBytes(l));                  // ids: I64 [2] at [16,32)
        data.AddRange(new byte[] { 0x00, 0x3C, 0x00, 0xC0 });         // h: F16 [2] = 1.0, -2.0 at [32,36)
        data.AddRange(new byte[] { 0x80, 0x3F, 0x00, 0xC0, 0x00, 0x3F }); // b: BF16 [3] = 1.0, -2.0, 0.5 at [36,42)
        string json = """
            {"ids":{"dtype":"I64","shape":[2],"data_offsets":[16,32]},
             "b":{"dtype":"BF16","shape":[3],"data_offsets":[36,42]},
             "w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},
             "h":{"dtype":"F16","shape":[2],"data_offsets":[32,36]},
             "__metadata__":{"format":"pt","source":"hand"}}
            """;
        string path = PathIn("hand.safetensors");
        WriteRawFile(path, json, data.ToArray());

        var header = SafeTensorsFile.ReadHeader(path);
        Assert.Equal(new[] { "b", "h", "ids", "w" }, header.Keys.Order());
        Assert.Equal(("F32", 0L, 16L), (header["w"].DType, header["w"].Begin, header["w"].End));
        Assert.Equal(new long[] { 2, 2 }, header["w"].Shape);
        Assert.Equal(("BF16", 36L, 42L, 3L), (header["b"].DType, header["b"].Begin, header["b"].End, header["b"].ElementCount));
        Assert.Equal("hand", SafeTensorsFile.ReadMetadata(path)["source"]);

        var stored = SafeTensorsFile.Load(path);
        Assert.Equal(ScalarType.Float32, stored["w"].dtype);
        Assert.Equal(new long[] { 2, 2 }, stored["w"].shape);
        Assert.Equal(new[] { 1f, 2f, -3.5f, 0.25f }, stored["w"].data<float>().ToArray());
        Assert.Equal(ScalarType.Int64, stored["ids"].dtype);
        Assert.Equal(new[] { 42L, -7L }, stored["ids"].data<long>().ToArray());
        Assert.Equal(ScalarType.Float16, stored["h"].dtype);
        Assert.Equal(ScalarType.BFloat16, stored["b"].dtype);

        var asFloat = SafeTensorsFile.Load(path, filter: name => name is "h" or "b", castTo: ScalarType.Float32);
        Assert.Equal(new[] { "b", "h" }, asFloat.Keys.Order());
        Assert.Equal(new[] { 1f, -2f }, asFloat["h"].data<float>().ToArray());
        Assert.Equal(new[] { 1f, -2f, 0.5f }, asFloat["b"].data<float>().ToArray());
    }

    [Fact]
    public void TensorBytes_CopiesInChunks_AsForTensorsOverTwoGigabytes()
    {
        // Tensor.bytes is a Span (at most int.MaxValue bytes), so big tensors go through narrowed views;
        // tiny chunks exercise that path, including a last chunk shorter than the rest.
        var source = randn(1001);
        using var stream = new MemoryStream();
        TensorBytes.WriteFrom(stream, source, chunkBytes: 12);
        Assert.Equal(Bytes(source), stream.ToArray());

        var target = empty(1001);
        stream.Position = 0;
        TensorBytes.ReadInto(stream, target, chunkBytes: 7);
        Assert.Equal(Bytes(source), Bytes(target));
    }

    [Fact]
    public void ShardedSave_WithATinyLimit_WritesSeveralShardsAndAnIndex_ThatLoadBackIdentical()
    {
        var tensors = Enumerable.Range(0, 6).ToDictionary(i => $"layers.{i}.weight", _ => randn(16)); // 64 bytes each
        tensors["norm.bf16"] = randn(8).to_type(ScalarType.BFloat16);

        CheckpointTensors.SaveDirectory(_dir, tensors, maxShardBytes: 150);

        var files = Directory.GetFiles(_dir).Select(Path.GetFileName).Order().ToArray();
        Assert.Contains(ShardedSafeTensors.IndexFileName, files);
        Assert.DoesNotContain(CheckpointTensors.SingleFileName, files);
        var shards = files.Where(f => f!.StartsWith("model-")).ToArray();
        Assert.True(shards.Length >= 2, $"expected several shards, got {string.Join(", ", files)}");
        Assert.All(shards, s => Assert.Matches($@"^model-\d{{5}}-of-{shards.Length:D5}\.safetensors$", s));

        using var index = JsonDocument.Parse(File.ReadAllBytes(PathIn(ShardedSafeTensors.IndexFileName)));
        Assert.Equal(6 * 64 + 8 * 2, index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        Assert.Equal(tensors.Count, index.RootElement.GetProperty("weight_map").EnumerateObject().Count());

        AssertSameTensors(tensors, CheckpointTensors.LoadDirectory(_dir));

        var filtered = CheckpointTensors.LoadDirectory(_dir, name => name.StartsWith("layers.5"), ScalarType.BFloat16);
        Assert.Equal(new[] { "layers.5.weight" }, filtered.Keys);
        Assert.Equal(ScalarType.BFloat16, filtered["layers.5.weight"].dtype);
    }

    [Fact]
    public void SaveDirectory_SwitchesBetweenLayouts_WithoutLeavingStaleWeights()
    {
        var big = new Dictionary<string, Tensor> { ["a"] = randn(32), ["b"] = randn(32), ["c"] = randn(32) };
        CheckpointTensors.SaveDirectory(_dir, big, maxShardBytes: 128);
        File.WriteAllText(PathIn("config.json"), "{}");

        var small = new Dictionary<string, Tensor> { ["a"] = randn(4) };
        CheckpointTensors.SaveDirectory(_dir, small, maxShardBytes: 128);
        Assert.Equal(new[] { "config.json", "model.safetensors" }, Directory.GetFiles(_dir).Select(Path.GetFileName).Order());
        AssertSameTensors(small, CheckpointTensors.LoadDirectory(_dir));

        CheckpointTensors.SaveDirectory(_dir, big, maxShardBytes: 128);
        Assert.DoesNotContain(CheckpointTensors.SingleFileName, Directory.GetFiles(_dir).Select(Path.GetFileName));
        AssertSameTensors(big, CheckpointTensors.LoadDirectory(_dir));
    }

    // ---- errors: each must be a UserError naming the file and, where there is one, the tensor ----

    [Fact]
    public void TruncatedFile_NamesFileAndTensor()
    {
        string path = PathIn("cut.safetensors");
        SafeTensorsFile.Save(path, new Dictionary<string, Tensor> { ["layer.weight"] = randn(64) });
        using (var stream = new FileStream(path, FileMode.Open))
            stream.SetLength(stream.Length - 10);

        var error = Assert.Throws<UserError>(() => SafeTensorsFile.Load(path));
        Assert.Contains("cut.safetensors", error.Message);
        Assert.Contains("layer.weight", error.Message);
    }

    [Fact]
    public void HeaderLongerThanFile_NamesFile()
    {
        string path = PathIn("long-header.safetensors");
        var bytes = new byte[10];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1000);
        bytes[8] = (byte)'{';
        bytes[9] = (byte)'}';
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<UserError>(() => SafeTensorsFile.ReadHeader(path));
        Assert.Contains("long-header.safetensors", error.Message);
        Assert.Contains("header length", error.Message);
    }

    [Fact]
    public void FileShorterThanLengthPrefix_NamesFile()
    {
        string path = PathIn("tiny.safetensors");
        File.WriteAllBytes(path, new byte[] { 1, 2, 3 });
        Assert.Contains("tiny.safetensors", Assert.Throws<UserError>(() => SafeTensorsFile.Load(path)).Message);
    }

    [Fact]
    public void OffsetsPastEnd_NameFileAndTensor()
    {
        string path = PathIn("short-data.safetensors");
        WriteRawFile(path, """{"too.long":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", new byte[8]);

        var error = Assert.Throws<UserError>(() => SafeTensorsFile.ReadHeader(path));
        Assert.Contains("short-data.safetensors", error.Message);
        Assert.Contains("too.long", error.Message);
    }

    [Theory]
    [InlineData("""{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}""", "x")]          // size ≠ shape × 4
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", "y")] // overlap
    [InlineData("""{"x":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}""", "x")]            // unknown dtype
    [InlineData("""{"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", "x")]          // negative dim
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}""", "x")]           // reversed offsets
    [InlineData("""{"x":{"dtype":"F32","shape":[2]}}""", "x")]                                // no offsets
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"x":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", "x")] // duplicate
    [InlineData("""{"x": [1, 2""", "not valid JSON")]
    [InlineData("""{"__metadata__":{"format":1}}""", "format")]
    public void MalformedHeader_NamesFileAndCulprit(string json, string culprit)
    {
        string path = PathIn("bad.safetensors");
        WriteRawFile(path, json, new byte[16]);

        var error = Assert.Throws<UserError>(() => SafeTensorsFile.ReadHeader(path));
        Assert.Contains("bad.safetensors", error.Message);
        Assert.Contains(culprit, error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void MissingFile_NamesFile()
    {
        string path = PathIn("absent.safetensors");
        Assert.Contains("absent.safetensors", Assert.Throws<UserError>(() => SafeTensorsFile.Load(path)).Message);
    }

    [Fact]
    public void MissingShard_NamesIndexAndShard()
    {
        var shards = ShardedSafeTensors.Save(_dir, new Dictionary<string, Tensor> { ["a"] = randn(16), ["b"] = randn(16) }, maxShardBytes: 64);
        Assert.Equal(2, shards.Count);
        File.Delete(PathIn(shards[1]));

        var error = Assert.Throws<UserError>(() => CheckpointTensors.LoadDirectory(_dir));
        Assert.Contains(ShardedSafeTensors.IndexFileName, error.Message);
        Assert.Contains(shards[1], error.Message);
        Assert.Contains("'b'", error.Message);
    }

    [Fact]
    public void TensorMissingFromItsShard_NamesIndexShardAndTensor()
    {
        var shards = ShardedSafeTensors.Save(_dir, new Dictionary<string, Tensor> { ["a"] = randn(16), ["b"] = randn(16) }, maxShardBytes: 64);
        string indexPath = PathIn(ShardedSafeTensors.IndexFileName);
        var weightMap = new Dictionary<string, string> { ["a"] = shards[0], ["b"] = shards[1], ["ghost.weight"] = shards[0] };
        File.WriteAllText(indexPath, JsonSerializer.Serialize(new { metadata = new { total_size = 128 }, weight_map = weightMap }));

        var error = Assert.Throws<UserError>(() => ShardedSafeTensors.Load(indexPath));
        Assert.Contains(ShardedSafeTensors.IndexFileName, error.Message);
        Assert.Contains(shards[0], error.Message);
        Assert.Contains("ghost.weight", error.Message);
    }

    [Fact]
    public void IndexNamingAPathOutsideItsDirectory_IsRefused()
    {
        string indexPath = PathIn(ShardedSafeTensors.IndexFileName);
        File.WriteAllText(indexPath, """{"weight_map": {"a": "../elsewhere.safetensors"}}""");

        var error = Assert.Throws<UserError>(() => ShardedSafeTensors.Load(indexPath));
        Assert.Contains(ShardedSafeTensors.IndexFileName, error.Message);
        Assert.Contains("'a'", error.Message);
    }

    [Fact]
    public void EmptyDirectory_SaysWhichFilesAreMissing()
    {
        var error = Assert.Throws<UserError>(() => CheckpointTensors.LoadDirectory(_dir));
        Assert.Equal($"no model.safetensors or model.safetensors.index.json in {_dir}", error.Message);
    }

    private static void WriteRawFile(string path, string json, byte[] data)
    {
        byte[] header = Encoding.UTF8.GetBytes(json);
        using var stream = File.Create(path);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        stream.Write(header);
        stream.Write(data);
    }
}

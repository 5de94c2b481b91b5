using System.Text;
using NasPrune.Evaluator.Export;
using Xunit;

namespace NasPrune.Tests;

/// <summary>The GGUF writer's bytes, read back field by field as ggml's docs/gguf.md lays them out.</summary>
public class GgufWriterTests
{
    [Fact]
    public void HeaderMetadataTensorInfosAndAlignedDataFollowTheSpec()
    {
        var w = new GgufWriter();
        w.Add("general.architecture", GgufValue.Str("llama"));
        w.Add("a.u32", GgufValue.U32(7));
        w.Add("a.f32", GgufValue.F32(0.5f));
        w.Add("a.bool", GgufValue.Bool(true));
        w.Add("a.ints", GgufValue.I32Array([3, -1, 0]));
        w.Add("a.strs", GgufValue.StrArray(["x", "ÿz"]));
        w.AddTensor("t.f32", [2, 3], GgufTensorType.F32, () => [1, 2, 3, 4, 5, 6]);
        w.AddTensor("t.f16", [3], GgufTensorType.F16, () => [0.5f, -2, 65504]);
        var stream = new MemoryStream();
        w.Write(stream);
        var r = new BinaryReader(new MemoryStream(stream.ToArray()));

        Assert.Equal("GGUF", Encoding.ASCII.GetString(r.ReadBytes(4)));
        Assert.Equal(3u, r.ReadUInt32());
        Assert.Equal(2ul, r.ReadUInt64());
        Assert.Equal(6ul, r.ReadUInt64());
        Assert.Equal(("general.architecture", 8u, "llama"), (Str(r), r.ReadUInt32(), Str(r)));
        Assert.Equal(("a.u32", 4u, 7u), (Str(r), r.ReadUInt32(), r.ReadUInt32()));
        Assert.Equal(("a.f32", 6u, 0.5f), (Str(r), r.ReadUInt32(), r.ReadSingle()));
        Assert.Equal(("a.bool", 7u, (byte)1), (Str(r), r.ReadUInt32(), r.ReadByte()));
        Assert.Equal(("a.ints", 9u, 5u, 3ul), (Str(r), r.ReadUInt32(), r.ReadUInt32(), r.ReadUInt64()));
        Assert.Equal([3, -1, 0], new[] { r.ReadInt32(), r.ReadInt32(), r.ReadInt32() });
        Assert.Equal(("a.strs", 9u, 8u, 2ul), (Str(r), r.ReadUInt32(), r.ReadUInt32(), r.ReadUInt64()));
        Assert.Equal(["x", "ÿz"], new[] { Str(r), Str(r) });

        // Tensor infos: dimensions innermost first, offsets relative to the data section, each a multiple of 32.
        Assert.Equal(("t.f32", 2u, 3ul, 2ul, 0u, 0ul), (Str(r), r.ReadUInt32(), r.ReadUInt64(), r.ReadUInt64(), r.ReadUInt32(), r.ReadUInt64()));
        Assert.Equal(("t.f16", 1u, 3ul, 1u, 32ul), (Str(r), r.ReadUInt32(), r.ReadUInt64(), r.ReadUInt32(), r.ReadUInt64()));

        long dataStart = (r.BaseStream.Position + 31) / 32 * 32;
        Assert.All(stream.ToArray()[(int)r.BaseStream.Position..(int)dataStart], b => Assert.Equal(0, b));
        r.BaseStream.Position = dataStart;
        Assert.Equal([1f, 2, 3, 4, 5, 6], Enumerable.Range(0, 6).Select(_ => r.ReadSingle()));
        r.BaseStream.Position = dataStart + 32;
        Assert.Equal([0.5f, -2, 65504], Enumerable.Range(0, 3).Select(_ => (float)r.ReadHalf()));
        Assert.Equal(dataStart + 64, stream.Length); // the last tensor is padded too
    }

    [Theory]
    [InlineData(0x3f800000u, 0x3f80)] // 1
    [InlineData(0xc0000000u, 0xc000)] // -2
    [InlineData(0x3f808000u, 0x3f80)] // exactly halfway between 0x3f80 and 0x3f81: ties to even (down)
    [InlineData(0x3f818000u, 0x3f82)] // halfway between 0x3f81 and 0x3f82: ties to even (up)
    [InlineData(0x3f808001u, 0x3f81)] // just above halfway: up
    [InlineData(0x7f800000u, 0x7f80)] // infinity
    public void BFloat16RoundsToNearestEven(uint floatBits, int bits) =>
        Assert.Equal((ushort)bits, GgufWriter.ToBFloat16(BitConverter.UInt32BitsToSingle(floatBits)));

    [Fact]
    public void BFloat16TensorsAreTwoBytesAndNaNStaysNaN()
    {
        var w = new GgufWriter();
        w.AddTensor("t.bf16", [3], GgufTensorType.BF16, () => [0.5f, -3, float.NaN]);
        var stream = new MemoryStream();
        w.Write(stream);
        var bytes = stream.ToArray();
        int data = bytes.Length - 32; // the one tensor, padded to 32 bytes
        ushort At(int i) => BitConverter.ToUInt16(bytes, data + 2 * i);
        Assert.Equal([0.5f, -3], new[] { At(0), At(1) }.Select(b => BitConverter.UInt32BitsToSingle((uint)b << 16)));
        Assert.True(float.IsNaN(BitConverter.UInt32BitsToSingle((uint)At(2) << 16)));
    }

    [Fact]
    public void RotaryPermutationInterleavesTheHalvesOfEachHead()
    {
        // Two heads of dimension 4, one input column: rows (h0: 0 1 2 3, h1: 4 5 6 7) pair i with i + 2 in
        // Hugging Face's layout; llama.cpp wants the pairs adjacent: (0 2 1 3, 4 6 5 7).
        using var w = TorchSharp.torch.arange(8, dtype: TorchSharp.torch.ScalarType.Float32).reshape(8, 1);
        using var permuted = GgufExport.RotaryPermute(w, heads: 2);
        Assert.Equal([0f, 2, 1, 3, 4, 6, 5, 7], permuted.reshape(-1).data<float>().ToArray());
        // A q/k bias (Qwen2 written as llama/deci) moves with its rows and stays one-dimensional.
        using var bias = TorchSharp.torch.arange(8, dtype: TorchSharp.torch.ScalarType.Float32);
        using var permutedBias = GgufExport.RotaryPermute(bias, heads: 2);
        Assert.Equal([8L], permutedBias.shape);
        Assert.Equal([0f, 2, 1, 3, 4, 6, 5, 7], permutedBias.data<float>().ToArray());
    }

    static string Str(BinaryReader r) => Encoding.UTF8.GetString(r.ReadBytes((int)r.ReadUInt64()));
}

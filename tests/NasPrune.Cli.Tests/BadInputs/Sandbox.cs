using System.Text;
using System.Text.Json.Nodes;
using NasPrune.Common;

namespace NasPrune.Tests.BadInputs;

/// <summary>
/// One bad-input case's private folder and the mutations it applies there: copies of the fixture's good inputs,
/// broken in one way each. Everything a case makes lives under <see cref="Dir"/>; the fixture's inputs are shared
/// and must never change (the suite checks).
/// </summary>
public sealed class Sandbox(BadInputFixture fixture, string dir) : IDisposable
{
    public string Dir { get; } = dir;
    public BadInputFixture F { get; } = fixture;
    public string ReadOnly => F.Mounts.ReadOnly;
    public string Full => F.Mounts.Full;
    readonly List<IDisposable> held = [];

    public string P(string relative) => Path.Combine(Dir, relative);

    public string Write(string relative, string text)
    {
        string path = P(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    public string Mkdir(string relative, bool nonEmpty = false)
    {
        Directory.CreateDirectory(P(relative));
        if (nonEmpty) File.WriteAllText(Path.Combine(P(relative), "user-notes.txt"), "mine\n");
        return P(relative);
    }

    /// <summary>A copy of the tiny model (importance cache included), changed by <paramref name="mutate"/>.</summary>
    public string Model(Action<string>? mutate = null)
    {
        string copy = P("model");
        BadInputFixture.CopyDirectory(F.Model, copy);
        mutate?.Invoke(copy);
        return copy;
    }

    /// <summary>A copy of the tiny model whose config.json <paramref name="edit"/> changed.</summary>
    public string ModelConfig(Action<JsonObject> edit) => Model(m =>
    {
        string path = Path.Combine(m, "config.json");
        var j = (JsonObject)JsonNode.Parse(File.ReadAllText(path))!;
        edit(j);
        File.WriteAllText(path, j.ToJsonString());
    });

    /// <summary>A copy of the tiny model with one tensor's dtype in the safetensors header replaced (same width, so the byte ranges stay valid).</summary>
    public string ModelDtype(string tensor, string from, string to) => Model(m =>
    {
        string path = Path.Combine(m, "model.safetensors");
        var bytes = File.ReadAllBytes(path);
        long headerLength = BitConverter.ToInt64(bytes, 0);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
        string key = $"\"{tensor}\":{{\"dtype\":\"{from}\"";
        if (!header.Contains(key)) throw new InvalidOperationException($"no {key} in the header");
        var changed = Encoding.UTF8.GetBytes(header.Replace(key, $"\"{tensor}\":{{\"dtype\":\"{to}\""));
        changed.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
    });

    /// <summary>A copy of the tiny model whose tokenizer.json gains an added token with id <paramref name="idPastVocab"/> beyond vocab_size.</summary>
    public string ModelTokenizerPastVocab(int idPastVocab) => Model(m =>
    {
        int vocab = (int)JsonNode.Parse(File.ReadAllText(Path.Combine(m, "config.json")))!["vocab_size"]!;
        string path = Path.Combine(m, "tokenizer.json");
        var j = JsonNode.Parse(File.ReadAllText(path))!;
        j["added_tokens"]!.AsArray().Add(new JsonObject
        {
            ["id"] = vocab - 1 + idPastVocab, ["content"] = "<|beyond|>", ["single_word"] = false, ["lstrip"] = false,
            ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
        });
        File.WriteAllText(path, j.ToJsonString());
    });

    /// <summary>A copy of the fixture's real pairs, changed by <paramref name="mutate"/>.</summary>
    public string Pairs(Action<string>? mutate = null)
    {
        string copy = P("pairs");
        BadInputFixture.CopyDirectory(F.Pairs, copy);
        mutate?.Invoke(copy);
        return copy;
    }

    /// <summary>A copy of the finished campaign run, changed by <paramref name="mutate"/>.</summary>
    public string Run(Action<string>? mutate = null)
    {
        string copy = P("run");
        BadInputFixture.CopyDirectory(F.Run, copy);
        mutate?.Invoke(copy);
        return copy;
    }

    /// <summary>Holds the single-writer lock of <paramref name="directory"/> (as another writer would) until the case ends.</summary>
    public void Lock(string directory) => held.Add(DirectoryLock.Acquire(directory, "test holder"));

    public void Dispose()
    {
        foreach (var h in held) h.Dispose();
        if (Directory.Exists(Dir)) Directory.Delete(Dir, recursive: true);
    }
}

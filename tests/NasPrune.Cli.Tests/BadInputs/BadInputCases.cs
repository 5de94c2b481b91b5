using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using NasPrune.Common;

namespace NasPrune.Tests.BadInputs;

/// <summary>
/// The table of bad inputs: for every command, the mistakes a user makes (a missing or broken model, a broken config
/// field, an architecture or pairs file that is not one, an option that does not parse) and the faults the system
/// throws at it (read-only mount, full disk, a file where a folder belongs, another writer). Each row is a mutation
/// of a good input and the pattern of the one error line it must give. Campaign-config keys and types are another
/// table's (issue 15 §3); the campaign's --out I/O is here.
/// </summary>
public static class BadInputCases
{
    /// <summary>Small settings for commands that would otherwise evaluate for minutes if a case were (wrongly) accepted.</summary>
    static readonly Dictionary<string, string[]> ModelCommands = new()
    {
        ["info"] = ["info"],
        ["eval"] = ["eval", "--task", "wikitext2", "--max-windows", "1", "--device", "cpu"],
        ["eval:mc"] = ["eval", "--task", "boolq", "--limit", "1", "--device", "cpu"],
        ["importance"] = ["importance", "--calibration-sequences", "2", "--device", "cpu"],
        ["prune"] = ["prune", "--eval-windows", "1", "--device", "cpu"],
        ["generate"] = ["generate", "--prompt", "the", "--max-new-tokens", "1", "--device", "cpu"],
        ["sample"] = ["sample", "--count", "1", "--windows", "1", "--device", "cpu"],
        ["bench"] = ["bench", "--seconds", "0.01", "--batch-sizes", "1", "--device", "cpu"],
    };

    // After ModelCommands: static fields initialize in declaration order.
    public static readonly IReadOnlyList<BadInput> All = Build();

    static List<BadInput> Build()
    {
        var cases = new List<BadInput>();
        void Add(string name, Func<Sandbox, string[]> args, string expect, bool mounts = false) => cases.Add(new BadInput(name, args, expect, mounts));

        // ---- a broken model, for every command that reads one ----
        var modelMutations = new (string Name, Func<Sandbox, string> Model, string Expect, bool NeedsTokenizer, bool NeedsWeights)[]
        {
            ("missing model directory", s => s.P("no-such-model"), "no-such-model(: model directory not found| \\(the directory does not exist\\))", false, false),
            ("config.json missing", s => s.Model(m => File.Delete(Path.Combine(m, "config.json"))), @"config\.json: file not found", false, false),
            ("config.json malformed", s => s.Model(m => File.WriteAllText(Path.Combine(m, "config.json"), "{\"model_type\": \"llama\",")), @"config\.json: malformed JSON", false, false),
            ("config.json an array", s => s.Model(m => File.WriteAllText(Path.Combine(m, "config.json"), "[1, 2]")), @"config\.json: not a JSON object", false, false),
            ("num_hidden_layers -8", s => s.ModelConfig(j => j["num_hidden_layers"] = -8), "field 'num_hidden_layers' should be a positive integer, got -8", false, false),
            ("head_dim -32", s => s.ModelConfig(j => j["head_dim"] = -32), "field 'head_dim' should be a positive integer, got -32", false, false),
            ("head_dim odd", s => s.ModelConfig(j => j["head_dim"] = 7), "field 'head_dim' is 7", false, false),
            ("rms_norm_eps negative", s => s.ModelConfig(j => j["rms_norm_eps"] = -1e-5), "field 'rms_norm_eps'", false, false),
            ("rms_norm_eps a string", s => s.ModelConfig(j => j["rms_norm_eps"] = "small"), "field 'rms_norm_eps' should be a number", false, false),
            ("tie_word_embeddings \"yes\"", s => s.ModelConfig(j => j["tie_word_embeddings"] = "yes"), "field 'tie_word_embeddings' should be true or false, got \"yes\"", false, false),
            ("hidden_act unknown", s => s.ModelConfig(j => j["hidden_act"] = "swishy"), "hidden_act", false, false),
            ("vocab_size a string", s => s.ModelConfig(j => j["vocab_size"] = "many"), "field 'vocab_size' should be a positive integer|field 'vocab_size' should be an integer", false, false),
            ("vocab_size 2.5", s => s.ModelConfig(j => j["vocab_size"] = 2.5), "field 'vocab_size'", false, false),
            ("hidden_size missing", s => s.ModelConfig(j => j.Remove("hidden_size")), "hidden_size", false, false),
            ("model_type gpt2", s => s.ModelConfig(j => j["model_type"] = "gpt2"), "model_type 'gpt2' is not supported", false, false),
            ("num_key_value_heads 3 of 4 heads", s => s.ModelConfig(j => j["num_key_value_heads"] = 3), "num_attention_heads 4 is not a multiple of num_key_value_heads 3", false, false),
            ("rope_scaling yarn", s => s.ModelConfig(j => j["rope_scaling"] = new JsonObject { ["rope_type"] = "yarn", ["factor"] = 2.0 }), "rope_scaling", false, false),
            ("max_position_embeddings 0", s => s.ModelConfig(j => j["max_position_embeddings"] = 0), "field 'max_position_embeddings' should be a positive integer", false, false),
            ("safetensors truncated", s => s.Model(m => Truncate(Path.Combine(m, "model.safetensors"))), @"model\.safetensors", false, true),
            ("safetensors garbage", s => s.Model(m => File.WriteAllText(Path.Combine(m, "model.safetensors"), "not a checkpoint")), @"model\.safetensors", false, true),
            ("weights missing", s => s.Model(m => File.Delete(Path.Combine(m, "model.safetensors"))), @"model\.safetensors", false, true),
            ("a float weight stored as I32", s => s.ModelDtype("model.layers.0.mlp.up_proj.weight", "F32", "I32"),
                @"model\.safetensors: tensor 'model\.layers\.0\.mlp\.up_proj\.weight' is stored as I32; a weight must be a float dtype", false, true),
            ("a float weight stored as U32", s => s.ModelDtype("model.norm.weight", "F32", "U32"),
                @"model\.safetensors: tensor 'model\.norm\.weight'(:| is stored as) (dtype )?U32", false, true),
            ("tokenizer ids past vocab_size", s => s.ModelTokenizerPastVocab(5), @"tokenizer\.json: token ids reach \d+, past config\.json's vocab_size \d+", true, false),
            ("tokenizer missing", s => s.Model(m => File.Delete(Path.Combine(m, "tokenizer.json"))), "tokenizer", true, false),
            ("tokenizer malformed", s => s.Model(m => File.WriteAllText(Path.Combine(m, "tokenizer.json"), "{")), @"tokenizer\.json", true, false),
        };
        foreach (var (command, baseArgs) in ModelCommands)
            foreach (var m in modelMutations)
            {
                // info reads config, headers and (when present) the tokenizer: a missing tokenizer is no error there.
                if (command == "info" && m.Name == "tokenizer missing") continue;
                // bench times forwards of random windows: it never reads the tokenizer.
                if (command == "bench" && m.NeedsTokenizer) continue;
                string verb = command.Split(':')[0];
                Add($"{verb}: {(command.Contains(':') ? command.Split(':')[1] + ", " : "")}{m.Name}",
                    s => WithModel(s, command, baseArgs, m.Model(s)), m.Expect);
            }

        // ---- architecture files ----
        var archMutations = new (string Name, Func<Sandbox, string> Arch, string Expect)[]
        {
            ("arch file missing", s => s.P("no-such-arch.json"), "no-such-arch.json"),
            ("arch file empty", s => s.Write("arch.json", ""), @"arch\.json"),
            ("arch file malformed", s => s.Write("arch.json", "{\"layers\": [}"), @"arch\.json"),
            ("arch of another layer count", s => s.Write("arch.json", ArchText(s, a => a["layers"]!.AsArray().RemoveAt(0))), @"arch\.json|layers"),
            ("arch head ratio 2", s => s.Write("arch.json", ArchText(s, a => a["layers"]![0]!["heads"] = 99)), @"arch\.json|heads|layer 0"),
            ("arch a JSON array", s => s.Write("arch.json", "[]"), @"arch\.json"),
        };
        var archCommands = new (string Name, Func<Sandbox, string, string[]> Args)[]
        {
            ("prune", (s, a) => ["prune", "--model", s.F.Model, "--arch", a, "--eval-windows", "1", "--device", "cpu"]),
            ("export", (s, a) => ["export", "--eval-windows", "1", "--model", s.F.Model, "--arch", a, "--out", s.P("out"), "--device", "cpu"]),
            ("eval", (s, a) => ["eval", "--model", s.F.Model, "--arch", a, "--task", "wikitext2", "--max-windows", "1", "--device", "cpu"]),
            ("generate", (s, a) => ["generate", "--model", s.F.Model, "--arch", a, "--prompt", "the", "--max-new-tokens", "1", "--device", "cpu"]),
        };
        foreach (var (command, args) in archCommands)
            foreach (var m in archMutations)
                Add($"{command}: {m.Name}", s => args(s, m.Arch(s)), m.Expect);

        // ---- pairs directories ----
        var pairsMutations = new (string Name, Func<Sandbox, string> Dir, string Expect)[]
        {
            ("pairs directory missing", s => s.P("no-pairs"), @"no-pairs: pairs directory not found|no-pairs/sample\.json: .* not found"),
            ("pairs directory empty", s => s.Mkdir("empty"), @"empty: no pair files \(\*\.parquet\) found|empty/sample\.json: .* not found"),
            ("torn parquet shard", s => s.Pairs(p => File.WriteAllText(Path.Combine(p, "shard-0-of-1", "part-00009.parquet"), "PAR1 torn")), @"part-00009\.parquet: unreadable pair shard"),
            ("truncated parquet shard", s => s.Pairs(p => Truncate(Directory.GetFiles(Path.Combine(p, "shard-0-of-1"), "part-*.parquet")[0])), @"part-\d+\.parquet: unreadable pair shard"),
        };
        var pairsCommands = new (string Name, Func<Sandbox, string, string[]> Args)[]
        {
            ("pairs list", (s, d) => ["pairs", "list", d]),
            ("pairs validate", (s, d) => ["pairs", "validate", d]),
            ("pairs merge", (s, d) => ["pairs", "merge", d, "--out", s.P("merged.parquet")]),
            ("pairs compare", (s, d) => ["pairs", "compare", d, s.F.Pairs]),
            ("predictor train", (s, d) => ["predictor", "train", "--pairs", d, "--out", s.P("p.zip"), "--model", s.F.Model]),
            ("faithfulness", (s, d) => ["faithfulness", "--pairs", d, "--model", s.F.Model, "--device", "cpu"]),
        };
        foreach (var (command, args) in pairsCommands)
            foreach (var m in pairsMutations)
                Add($"{command}: {m.Name}", s => args(s, m.Dir(s)), m.Expect);

        // Two base models in one directory: refused by merge (naming both hashes) and validate.
        Add("pairs merge: two base models mixed", s => ["pairs", "merge", MixedPairs(s), "--out", s.P("merged.parquet")],
            @"pairs of 2 base models mixed \([0-9a-f]{12} and [0-9a-f]{12}\)");
        Add("pairs validate: two base models mixed", s => ["pairs", "validate", MixedPairs(s)], "2 base models mixed");
        Add("predictor train: pairs of another model", s => ["predictor", "train", "--pairs", s.F.OtherModelPairs, "--out", s.P("p.zip"), "--model", s.F.Model],
            "another|other|model");
        Add("faithfulness: pairs without sample.json", s => ["faithfulness", "--pairs", s.Pairs(p => File.Delete(Path.Combine(p, "sample.json"))), "--model", s.F.Model],
            @"sample\.json");
        Add("faithfulness: sample.json malformed", s => ["faithfulness", "--pairs", s.Pairs(p => File.WriteAllText(Path.Combine(p, "sample.json"), "{")), "--model", s.F.Model],
            @"sample\.json");
        Add("faithfulness: sweep file missing", s => ["faithfulness", "--pairs", s.F.Pairs, "--model", s.F.Model, "--sweep", s.P("no-results.json")], "no-results.json");

        // ---- predictor files ----
        Add("predictor eval: predictor missing", s => ["predictor", "eval", "--predictor", s.P("none.zip"), "--pairs", s.F.Pairs], @"none\.zip: predictor model not found");
        Add("predictor eval: predictor card missing", s => ["predictor", "eval", "--predictor", s.Write("p.zip", "PK"), "--pairs", s.F.Pairs], @"p\.card\.json");
        Add("predictor predict: predictor missing", s => ["predictor", "predict", "--predictor", s.P("none.zip"), "--arch", s.F.Arch], @"none\.zip: predictor model not found");
        Add("predictor predict: card malformed", s => ["predictor", "predict", "--predictor", s.Write("p.zip", "PK"), "--arch", s.F.Arch],
            @"p\.card\.json");
        Add("predictor bench: predictor missing", s => ["predictor", "bench", "--predictor", s.P("none.zip"), "--count", "10"], @"none\.zip: predictor model not found");
        Add("predictor transfer: source pairs missing", s => ["predictor", "transfer", "--source-pairs", s.P("no-src"), "--pairs", s.F.Pairs, "--heldout", s.F.Pairs, "--model", s.F.Model],
            "no-src");

        // ---- outputs: a file where a folder belongs, a folder where a file belongs, a parent that is a file, data not to overwrite ----
        Add("prune: --out is a file", s => ["prune", "--model", s.F.Model, "--eval-windows", "1", "--out", s.Write("taken", "mine")], @"taken: is a file");
        Add("prune: --out non-empty without --force", s => ["prune", "--model", s.F.Model, "--eval-windows", "1", "--out", s.Mkdir("taken", nonEmpty: true)], @"taken: output directory exists and is not empty \(pass --force");
        Add("prune: --out below a file", s => ["prune", "--model", s.F.Model, "--eval-windows", "1", "--out", Path.Combine(s.Write("taken", "mine"), "out")], @"taken: is a file");
        Add("prune: --out.partial of the user is kept", s =>
        {
            s.Mkdir("out.partial", nonEmpty: true);
            return ["prune", "--model", s.F.Model, "--eval-windows", "1", "--out", s.Mkdir("out", nonEmpty: true)];
        }, @"out: output directory exists and is not empty");
        Add("export: --out is a file", s => ["export", "--eval-windows", "1", "--model", s.F.Model, "--arch", s.F.Arch, "--out", s.Write("taken", "mine")], @"taken: is a file");
        Add("export: --out non-empty without --force", s => ["export", "--eval-windows", "1", "--model", s.F.Model, "--arch", s.F.Arch, "--out", s.Mkdir("taken", nonEmpty: true)], "taken: output directory exists and is not empty");
        Add("export: --out below a file", s => ["export", "--eval-windows", "1", "--model", s.F.Model, "--arch", s.F.Arch, "--out", Path.Combine(s.Write("taken", "mine"), "out")], @"taken: is a file");
        Add("export: no --out", s => ["export", "--eval-windows", "1", "--model", s.F.Model, "--arch", s.F.Arch], "export needs --arch FILE and --out DIR");
        Add("export: --format bogus", s => ["export", "--eval-windows", "1", "--model", s.F.Model, "--arch", s.F.Arch, "--out", s.P("o"), "--format", "onnx"], "onnx");
        Add("importance: --out exists without --force", s => ["importance", "--model", s.F.Model, "--out", s.Write("scores.json", "{\"mine\": 1}")], @"scores\.json: already exists \(pass --force");
        Add("importance: --out is a directory", s => ["importance", "--model", s.F.Model, "--out", s.Mkdir("scores")], "scores: is a directory");
        Add("importance: --out below a file", s => ["importance", "--model", s.F.Model, "--out", Path.Combine(s.Write("taken", "mine"), "s.json")], "taken: is a file");
        Add("sample: --out is a file", s => ["sample", "--model", s.F.Model, "--count", "1", "--windows", "1", "--out", s.Write("taken", "mine")], "taken: is a file");
        Add("sample: --out below a file", s => ["sample", "--model", s.F.Model, "--count", "1", "--windows", "1", "--out", Path.Combine(s.Write("taken", "mine"), "p")], "taken: is a file");
        Add("sample: --out holds pairs, no --resume", s => ["sample", "--model", s.F.Model, "--count", "1", "--windows", "1", "--out", s.Pairs()], @"pairs: already holds pairs; pass --resume");
        Add("sample: --resume with other settings", s => ["sample", "--model", s.F.Model, "--count", "4", "--windows", "3", "--min-kept", "0.5", "--max-kept", "0.8", "--out", s.Pairs(), "--resume"],
            @"sample\.json: this pairs directory was sampled with other settings");
        Add("sample: shard locked by another writer", s =>
        {
            string p = s.Pairs();
            s.Lock(Path.Combine(p, "shard-0-of-1"));
            return ["sample", "--model", s.F.Model, "--count", "4", "--windows", "2", "--min-kept", "0.5", "--max-kept", "0.8", "--out", p, "--resume"];
        }, $@"shard-0-of-1: pairs shard 0/1 is locked by another nasprune process \(PID {Environment.ProcessId}, \.nasprune\.lock\)");
        Add("sample: --shard 2/2", s => ["sample", "--model", s.F.Model, "--out", s.P("p"), "--shard", "2/2"], "shard");
        Add("sample: --min-kept above --max-kept", s => ["sample", "--model", s.F.Model, "--out", s.P("p"), "--min-kept", "0.9", "--max-kept", "0.8"], "budget band");
        Add("sample: --bounds file missing", s => ["sample", "--model", s.F.Model, "--out", s.P("p"), "--count", "1", "--windows", "1", "--bounds", s.P("no-bounds.json")], "no-bounds.json");
        Add("sample: --measure bogus", s => ["sample", "--model", s.F.Model, "--out", s.P("p"), "--measure", "bleu"], "bleu");
        Add("pairs merge: --out exists", s => ["pairs", "merge", s.F.Pairs, "--out", s.Write("merged.parquet", "mine")], @"merged\.parquet: already exists; choose another --out");
        Add("pairs merge: --out is a directory", s => ["pairs", "merge", s.F.Pairs, "--out", s.Mkdir("merged")], "merged: is a directory");
        Add("pairs merge: --out below a file", s => ["pairs", "merge", s.F.Pairs, "--out", Path.Combine(s.Write("taken", "mine"), "m.parquet")], "taken: is a file");
        Add("predictor train: --out exists", s => ["predictor", "train", "--pairs", s.F.Pairs, "--model", s.F.Model, "--out", s.Write("p.zip", "mine")], @"p\.zip: already exists");
        Add("predictor train: --out is a directory", s => ["predictor", "train", "--pairs", s.F.Pairs, "--model", s.F.Model, "--out", s.Mkdir("p.zip")], @"p\.zip: (is a directory|already exists)");
        Add("predictor train: --out below a file", s => ["predictor", "train", "--pairs", s.F.Pairs, "--model", s.F.Model, "--out", Path.Combine(s.Write("taken", "mine"), "p.zip")], "taken: is a file");
        Add("predictor synthetic-pairs: --out exists", s => ["predictor", "synthetic-pairs", "--out", s.Mkdir("syn"), "--model", s.F.Model], "syn: already exists");
        Add("predictor synthetic-pairs: --out below a file", s => ["predictor", "synthetic-pairs", "--out", Path.Combine(s.Write("taken", "mine"), "syn"), "--model", s.F.Model], "taken: is a file");
        Add("predictor synthetic-pairs: broken model config", s => ["predictor", "synthetic-pairs", "--out", s.P("syn"), "--model", s.ModelConfig(j => j["num_hidden_layers"] = -8)], "num_hidden_layers");
        Add("train-base: --out is a file", s => ["train-base", "--out", s.Write("taken", "mine"), "--steps", "1"], "taken: is a file");
        Add("train-base: --out non-empty without --force", s => ["train-base", "--out", s.Mkdir("taken", nonEmpty: true), "--steps", "1"], "taken: output directory exists and is not empty");
        Add("train-base: --out below a file", s => ["train-base", "--out", Path.Combine(s.Write("taken", "mine"), "m"), "--steps", "1"], "taken: is a file");
        Add("train-base: --corpus missing", s => ["train-base", "--out", s.P("m"), "--corpus", s.P("no-corpus"), "--steps", "1"], "no-corpus");
        Add("prune-sweep: --out is a file", s => ["prune-sweep", "--model", s.F.Model, "--out", s.Write("taken", "mine"), "--eval-windows", "1", "--criteria", "magnitude", "--budgets", "0.2", "--recover", "none"], "taken: is a file");
        Add("prune-sweep: --out below a file", s => ["prune-sweep", "--model", s.F.Model, "--out", Path.Combine(s.Write("taken", "mine"), "o"), "--eval-windows", "1", "--criteria", "magnitude", "--budgets", "0.2", "--recover", "none"], "taken: is a file");
        Add("prune-sweep: unknown criterion", s => ["prune-sweep", "--model", s.F.Model, "--out", s.P("o"), "--criteria", "vibes"], "vibes");
        Add("prune-sweep: broken model", s => ["prune-sweep", "--model", s.ModelConfig(j => j["head_dim"] = -32), "--out", s.P("o"), "--eval-windows", "1", "--criteria", "magnitude", "--budgets", "0.2", "--recover", "none"], "head_dim");
        Add("prune-sweep: an earlier sweep's results in --out", s => ["prune-sweep", "--out", Path.GetDirectoryName(s.Write("sweep/results.json", "{}"))!, "--eval-windows", "1", "--model", s.F.Model], @"results.json: already exists \(pass --force to replace it\)");
        Add("synth: unknown shape", s => ["synth", "--shape", "nope", "--out", s.P("syn")], "--shape nope: unknown shape");
        Add("synth: --out is a file", s => ["synth", "--shape", "tiny-llama", "--out", s.Write("taken", "mine")], "taken: is a file");
        Add("synth: bad dtype", s => ["synth", "--shape", "tiny-llama", "--dtype", "f8", "--out", s.P("syn")], "--dtype f8: expected bf16, f16 or f32");
        Add("synth: no --out", s => ["synth", "--shape", "tiny-llama"], "--out is required");
        Add("campaign: non-integer population", s => ["campaign", "--config", s.Write("c.yaml", "evolution:\n  population: 2.5\n"), "--out", s.P("run")], "evolution.population: '2.5' is not an integer");
        Add("campaign: float seed", s => ["campaign", "--config", s.Write("c.yaml", "seed: 1e3\n"), "--out", s.P("run")], "seed: '1e3' is not an integer");
        Add("campaign: top_k 1", s => ["campaign", "--config", s.Write("c.yaml", "active:\n  top_k: 1\n"), "--out", s.P("run")], "active.top_k 1: at least 2");
        Add("campaign: shrink rounds 0", s => ["campaign", "--config", s.Write("c.yaml", "shrink:\n  rounds: 0\n"), "--out", s.P("run")], "shrink rounds 0: must be at least 1");
        Add("campaign: bogus recovery", s => ["campaign", "--config", s.Write("c.yaml", "final:\n  recover: [bogus]\n"), "--out", s.P("run")], "final.recover: 'bogus' is not one of");
        Add("campaign: bogus predictor target", s => ["campaign", "--config", s.Write("c.yaml", "predictor:\n  target: bogus\n"), "--out", s.P("run")], "predictor.target: 'bogus' is not one of");
        Add("campaign: unknown key names the nearest", s => ["campaign", "--config", s.Write("c.yaml", "pairs:\n  cuont: 10\n"), "--out", s.P("run")], @"pairs.cuont: unknown key \(did you mean 'pairs.count'\?\)");
        Add("campaign: derived seed", s => ["campaign", "--config", s.Write("c.yaml", "evolution:\n  seed: 3\n"), "--out", s.P("run")], "evolution.seed: set by the campaign");
        Add("campaign: --out is a file", s => ["campaign", "--config", s.F.CampaignConfig, "--out", s.Write("taken", "mine"), "--device", "cpu"], "taken: is a file");
        Add("campaign: --out below a file", s => ["campaign", "--config", s.F.CampaignConfig, "--out", Path.Combine(s.Write("taken", "mine"), "run"), "--device", "cpu"], "taken: is a file");
        Add("campaign: config missing", s => ["campaign", "--config", s.P("none.yaml"), "--out", s.P("run")], @"none\.yaml");
        Add("campaign: config malformed YAML", s => ["campaign", "--config", s.Write("c.yaml", "name: [unclosed"), "--out", s.P("run")], @"c\.yaml");
        Add("campaign: run directory locked by another writer", s =>
        {
            string run = s.Mkdir("run");
            s.Lock(run);
            return ["campaign", "--config", s.F.CampaignConfig, "--out", run, "--device", "cpu"];
        }, $@"run: campaign run directory is locked by another nasprune process \(PID {Environment.ProcessId}");
        Add("report: run directory missing", s => ["report", "--run", s.P("no-run")], "no-run: run directory not found");
        Add("report: run is a file", s => ["report", "--run", s.Write("run", "mine")], "run: (is a file|run directory not found)");
        Add("report: results.json missing", s => ["report", "--run", s.Run(r => File.Delete(Path.Combine(r, "results.json")))], @"results\.json");
        Add("report: results.json malformed", s => ["report", "--run", s.Run(r => File.WriteAllText(Path.Combine(r, "results.json"), "{\"rows\": ["))], @"results\.json");
        Add("report: search/round-2.json corrupt", s => ["report", "--run", s.Run(r => File.WriteAllText(Path.Combine(r, "search", "round-2.json"), "{\"round\": 2, \"candi"))], @"round-2\.json");
        Add("report: search/round-1.json empty", s => ["report", "--run", s.Run(r => File.WriteAllText(Path.Combine(r, "search", "round-1.json"), ""))], @"round-1\.json");
        Add("report: report.md is a directory", s => ["report", "--run", s.Run(r => { File.Delete(Path.Combine(r, "report.md")); Directory.CreateDirectory(Path.Combine(r, "report.md")); })],
            @"report\.md: is a directory");

        // ---- options that do not parse (System.CommandLine), per command ----
        var parse = new (string Command, string[] Args, string Expect)[]
        {
            ("info", ["info", "--no-such-option"], "--no-such-option"),
            ("eval", ["eval", "--task", "wikitext2", "--max-windows", "many"], "many.*--max-windows"),
            ("eval", ["eval", "--task", "lambada"], "unknown task 'lambada'"),
            ("eval", ["eval", "--task", "wikitext2", "--split", "train"], "train"),
            ("eval", ["eval", "--task", "wikitext2", "--device", "tpu"], "tpu"),
            ("train-base", ["train-base", "--out", "/tmp/x", "--steps", "ten"], "ten.*--steps"),
            ("importance", ["importance", "--criterion", "vibes"], "vibes"),
            ("importance", ["importance", "--calibration-sequences", "0"], "--calibration-sequences 0: must be positive"),
            ("importance", ["importance", "--calibration-sequences", "x"], "x.*--calibration-sequences"),
            ("prune", ["prune", "--remove", "abc"], "abc.*--remove"),
            ("prune", ["prune", "--uniform", "--random"], "choose one of --uniform, --random and --arch"),
            ("prune", ["prune", "--recover", "magic"], "magic"),
            ("prune", ["prune", "--eval-windows", "0"], "--eval-windows 0: must be positive"),
            ("prune", ["prune", "--seed", "1e3"], "1e3.*--seed"),
            ("export", ["export", "--gguf-type", "q4", "--arch", "a", "--out", "o"], "q4|a"),
            ("prune-sweep", ["prune-sweep"], "--out"),
            ("prune-sweep", ["prune-sweep", "--out", "o", "--budgets", "half"], "half.*--budgets"),
            ("sample", ["sample"], "--out"),
            ("sample", ["sample", "--out", "o", "--count", "2.5"], @"2\.5.*--count"),
            ("sample", ["sample", "--out", "o", "--count", "0"], "--count 0: must be positive"),
            ("sample", ["sample", "--out", "o", "--shard", "one"], "one"),
            ("faithfulness", ["faithfulness"], "--pairs"),
            ("pairs list", ["pairs", "list"], "dir|argument"),
            ("pairs validate", ["pairs", "validate", "a", "b"], "b"),
            ("pairs merge", ["pairs", "merge", "dir"], "--out"),
            ("pairs compare", ["pairs", "compare", "a"], "right|argument"),
            ("pairs", ["pairs", "shuffle"], "shuffle"),
            ("predictor train", ["predictor", "train", "--pairs", "p"], "--out"),
            ("predictor train", ["predictor", "train", "--pairs", "p", "--out", "o.zip", "--folds", "many"], "many.*--folds"),
            ("predictor eval", ["predictor", "eval", "--pairs", "p"], "--predictor"),
            ("predictor predict", ["predictor", "predict", "--predictor", "p.zip"], "--arch"),
            ("predictor synthetic-pairs", ["predictor", "synthetic-pairs", "--out", "o", "--count", "lots"], "lots.*--count"),
            ("campaign", ["campaign"], "--config"),
            ("campaign", ["campaign", "--config", "c.yaml", "--bogus"], "--bogus"),
            ("report", ["report"], "--run"),
            ("bench", ["bench", "--seconds", "long"], "long.*--seconds"),
            ("generate", ["generate", "--prompt", "x", "--max-new-tokens", "-"], "--max-new-tokens"),
            ("generate", ["generate", "--prompt", "x", "--max-new-tokens", "0"], "--max-new-tokens 0: must be positive"),
            ("generate", ["generate", "--prompt", "x", "--temperature", "hot"], "hot.*--temperature"),
            ("nasprune", ["frobnicate"], "frobnicate"),
            ("nasprune", [], "Required command was not provided"),
        };
        foreach (var (command, args, expect) in parse)
            Add($"{command}: parse {string.Join(' ', args.Skip(command == "nasprune" ? 0 : command.Count(ch => ch == ' ') + 1))}".TrimEnd(), _ => args, expect);

        // ---- the operating system's faults: a read-only mount, a full disk ----
        Add("prune: --out on a read-only mount", s => ["prune", "--model", s.F.Model, "--eval-windows", "1", "--out", Path.Combine(s.ReadOnly, "out")], @"/ro/out: read-only file system", true);
        Add("prune: --out on a full disk", s => ["prune", "--model", s.F.Model, "--eval-windows", "1", "--out", Path.Combine(s.Full, "out")], @"/full/out\S*: no space left on device", true);
        Add("prune: --out ls recovery on a full disk", s => ["prune", "--model", s.F.Model, "--eval-windows", "1", "--recover", "ls", "--calibration-sequences", "2", "--out", Path.Combine(s.Full, "out")], @"/full/out\S*: no space left on device", true);
        Add("export: --out on a read-only mount", s => ["export", "--eval-windows", "1", "--model", s.F.Model, "--arch", s.F.Arch, "--out", Path.Combine(s.ReadOnly, "out")], @"/ro/out: read-only file system", true);
        Add("export: --out on a full disk", s => ["export", "--eval-windows", "1", "--model", s.F.Model, "--arch", s.F.Arch, "--out", Path.Combine(s.Full, "out")], @"/full/out\S*: no space left on device", true);
        Add("export: gguf --out on a full disk", s => ["export", "--eval-windows", "1", "--model", s.F.Model, "--arch", s.F.Arch, "--format", "gguf", "--out", Path.Combine(s.Full, "out")], @"/full/out\S*: no space left on device", true);
        Add("importance: --out on a read-only mount", s => ["importance", "--model", s.F.Model, "--out", Path.Combine(s.ReadOnly, "scores.json")], @"/ro/scores\.json: read-only file system", true);
        Add("importance: --out on a full disk", s => ["importance", "--model", s.F.Model, "--out", Path.Combine(s.Full, "scores.json")], @"/full/scores\.json: no space left on device", true);
        Add("sample: --out on a read-only mount", s => ["sample", "--model", s.F.Model, "--count", "1", "--windows", "1", "--out", Path.Combine(s.ReadOnly, "p")], @"/ro/p\S*: read-only file system", true);
        Add("sample: --resume of pairs on a read-only mount", s => ["sample", "--model", s.F.Model, "--count", "4", "--windows", "2", "--min-kept", "0.5", "--max-kept", "0.8", "--out", Path.Combine(s.ReadOnly, "pairs"), "--resume"], @"/ro/pairs\S*: read-only file system", true);
        Add("sample: --out on a full disk", s => ["sample", "--model", s.F.Model, "--count", "2", "--windows", "1", "--out", Path.Combine(s.Full, "p")], @"/full/p\S*: no space left on device", true);
        Add("pairs merge: --out on a read-only mount", s => ["pairs", "merge", s.F.Pairs, "--out", Path.Combine(s.ReadOnly, "m.parquet")], @"/ro/m\.parquet: read-only file system", true);
        Add("pairs merge: --out on a full disk", s => ["pairs", "merge", s.F.Pairs, "--out", Path.Combine(s.Full, "m.parquet")], @"/full/m\.parquet: no space left on device", true);
        Add("pairs merge: pairs and --out on a read-only mount", s => ["pairs", "merge", Path.Combine(s.ReadOnly, "pairs"), "--out", Path.Combine(s.ReadOnly, "pairs", "m.parquet")], @"/ro/pairs/m\.parquet: read-only file system", true);
        Add("predictor train: --out on a read-only mount", s => ["predictor", "train", "--pairs", s.F.OtherModelPairs, "--out", Path.Combine(s.ReadOnly, "p.zip")], @"/ro/p\.zip: read-only file system", true);
        Add("predictor train: --out on a full disk", s => ["predictor", "train", "--pairs", s.F.OtherModelPairs, "--out", Path.Combine(s.Full, "p.zip"), "--folds", "2", "--curve-sizes", "10", "--curve-repeats", "1", "--trees", "5"], @"/full/p\S*: no space left on device", true);
        Add("predictor synthetic-pairs: --out on a read-only mount", s => ["predictor", "synthetic-pairs", "--out", Path.Combine(s.ReadOnly, "syn"), "--count", "5"], @"/ro/syn\S*: read-only file system", true);
        Add("predictor synthetic-pairs: --out on a full disk", s => ["predictor", "synthetic-pairs", "--out", Path.Combine(s.Full, "syn"), "--count", "200"], @"/full/syn\S*: no space left on device", true);
        Add("campaign: --out on a read-only mount", s => ["campaign", "--config", s.F.CampaignConfig, "--out", Path.Combine(s.ReadOnly, "run2"), "--device", "cpu"], @"/ro/run2\S*: read-only file system", true);
        Add("campaign: --out on a full disk", s => ["campaign", "--config", s.F.CampaignConfig, "--out", Path.Combine(s.Full, "run"), "--device", "cpu"], @"/full/run\S*: no space left on device", true);
        Add("campaign: resume of a run on a read-only mount", s => ["campaign", "--config", s.F.CampaignConfig, "--out", Path.Combine(s.ReadOnly, "run"), "--device", "cpu"], @"/ro/run\S*: read-only file system", true);
        Add("report: run on a read-only mount", s => ["report", "--run", Path.Combine(s.ReadOnly, "run")], @"/ro/run/\S+: read-only file system", true);
        Add("train-base: --out on a read-only mount", s => ["train-base", "--out", Path.Combine(s.ReadOnly, "m"), "--steps", "1"], @"/ro/m\S*: read-only file system", true);
        Add("prune-sweep: --out on a read-only mount", s => ["prune-sweep", "--model", s.F.Model, "--out", Path.Combine(s.ReadOnly, "sweep"), "--eval-windows", "1", "--criteria", "magnitude", "--budgets", "0.2", "--recover", "none"], @"/ro/sweep\S*: read-only file system", true);
        Add("predictor eval: --csv on a read-only mount", s => ["predictor", "eval", "--predictor", s.P("none.zip"), "--pairs", s.F.Pairs, "--csv", Path.Combine(s.ReadOnly, "x.csv")], @"none\.zip: predictor model not found|/ro/x\.csv: read-only file system", true);
        return cases;
    }

    static string[] WithModel(Sandbox s, string command, string[] baseArgs, string model) => command switch
    {
        "sample" => [.. baseArgs, "--model", model, "--out", s.P("pairs-out")],
        _ => [.. baseArgs, "--model", model],
    };

    static string ArchText(Sandbox s, Action<JsonObject> edit)
    {
        var j = (JsonObject)JsonNode.Parse(File.ReadAllText(s.F.Arch))!;
        edit(j);
        return j.ToJsonString();
    }

    /// <summary>The fixture's pairs plus another model's synthetic pairs in one directory.</summary>
    static string MixedPairs(Sandbox s) => s.Pairs(p => BadInputFixture.CopyDirectory(Path.Combine(s.F.OtherModelPairs, "shard-0-of-1"), Path.Combine(p, "shard-other")));

    static void Truncate(string path)
    {
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
    }
}

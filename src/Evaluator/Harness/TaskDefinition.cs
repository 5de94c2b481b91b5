using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using NasPrune.Common;

namespace NasPrune.Evaluator.Harness;

/// <summary>
/// A zero-shot multiple-choice task described by a small JSON file (<c>&lt;task&gt;/task.json</c> beside its data),
/// so that adding a task is adding a file. The definition names the data file and its layout, the prompt as a
/// template, the choices, where the gold answer is, and the metric the LLM-pruning papers report for the task.
/// </summary>
/// <remarks>
/// Fields (paths are relative to the definition's folder; templates fill <c>{field.path}</c> from each record):
/// <code>
/// task             name used by --task
/// split            which split the data file is (recorded with every result)
/// data             {"format": "jsonl", "file": ...} or {"format": "lines", "file": ..., "fields": [names, one per line]},
///                  optionally "labels_file" (one label per line) stored in field "labels_field" (default "label")
/// context          template of the context
/// choices          list of templates, one per choice, or {"array": path, "text": path in element, "label": path in element}
/// target_delimiter put between context and choice (default " ", as the harness)
/// partial          instead of context/choices (WinoGrande): {"sentence": template, "blank": "_", "options": [templates]}
/// gold             {"field": path, "map": {value: index}} or {"field": path, "choice_label": true}; else an integer index
/// metric           "acc" or "acc_norm": the figure the papers report and the suite average uses
/// note             optional protocol remark recorded with results
/// </code>
/// </remarks>
public sealed class TaskDefinition
{
    public required string Task { get; init; }
    public required string Split { get; init; }
    public required string Metric { get; init; }
    public string? Note { get; init; }
    /// <summary>The data file the items come from.</summary>
    public required string DataFile { get; init; }

    // Data layout.
    string format = "jsonl";
    IReadOnlyList<string> lineFields = [];
    string? labelsFile;
    string labelsField = "label";

    // Prompt: either context + choices, or WinoGrande's partial evaluation.
    TextTemplate? context;
    IReadOnlyList<TextTemplate>? choiceTemplates;
    FieldPath? choiceArray, choiceText, choiceLabel;
    string delimiter = " ";
    TextTemplate? partialSentence;
    string blank = "_";
    IReadOnlyList<TextTemplate>? partialOptions;

    // Gold answer.
    FieldPath goldField = null!;
    IReadOnlyDictionary<string, int>? goldMap;
    bool goldIsChoiceLabel;

    /// <summary>The prompt format as results record it: templates and delimiter, exactly as the definition has them.</summary>
    public string PromptFormat
    {
        get
        {
            string Q(string s) => JsonSerializer.Serialize(s);
            if (partialSentence is not null)
                return $"partial: sentence {Q(partialSentence.Source)} split at {Q(blank)}; context = text before it + option " +
                       $"({string.Join(", ", partialOptions!.Select(o => Q(o.Source)))}); continuation = {Q(delimiter)} + text after it (stripped)";
            string choices = choiceTemplates is not null
                ? string.Join(", ", choiceTemplates.Select(c => Q(delimiter + c.Source)))
                : Q(delimiter + "{" + choiceArray + "[*]" + (choiceText is null ? "" : "." + choiceText) + "}");
            return $"context {Q(context!.Source)}; continuations {choices}";
        }
    }

    /// <summary>Reads a definition file; data paths resolve against its folder.</summary>
    public static TaskDefinition Load(string path)
    {
        var d = DefinitionReader.Open(path);
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var data = d.Object("data");
        string metric = d.String("metric");
        if (metric is not ("acc" or "acc_norm")) throw new UserError($"{d.Where("metric")}: '{metric}' is not acc or acc_norm");

        var definition = new TaskDefinition
        {
            Task = d.String("task"),
            Split = d.String("split"),
            Metric = metric,
            Note = d.OptionalString("note"),
            DataFile = Path.Combine(folder, data.String("file")),
            format = data.String("format"),
            labelsFile = data.OptionalString("labels_file") is string labels ? Path.Combine(folder, labels) : null,
            labelsField = data.OptionalString("labels_field") ?? "label",
            delimiter = d.OptionalString("target_delimiter") ?? " ",
        };
        if (definition.format == "lines") definition.lineFields = data.Strings("fields");
        else if (definition.format != "jsonl")
            throw new UserError($"{data.Where("format")}: '{definition.format}' is not jsonl or lines");

        if (d.Has("partial"))
        {
            var partial = d.Object("partial");
            definition.partialSentence = partial.Template(partial.String("sentence"), "sentence");
            definition.blank = partial.OptionalString("blank") ?? "_";
            definition.partialOptions = partial.Strings("options").Select(o => partial.Template(o, "options")).ToArray();
        }
        else
        {
            definition.context = d.Template(d.String("context"), "context");
            switch (d.Node("choices"))
            {
                case JsonArray:
                    definition.choiceTemplates = d.Strings("choices").Select(c => d.Template(c, "choices")).ToArray();
                    break;
                case JsonObject:
                    var choices = d.Object("choices");
                    definition.choiceArray = choices.FieldPath("array");
                    definition.choiceText = choices.OptionalFieldPath("text");
                    definition.choiceLabel = choices.OptionalFieldPath("label");
                    break;
                default:
                    throw new UserError($"{d.Where("choices")} is missing: a list of templates or {{\"array\": ...}}");
            }
        }

        var gold = d.Object("gold");
        definition.goldField = gold.FieldPath("field");
        definition.goldMap = gold.OptionalIntMap("map");
        definition.goldIsChoiceLabel = gold.OptionalBool("choice_label");
        if (definition.goldIsChoiceLabel && definition.choiceLabel is null)
            throw new UserError($"{gold.Where("choice_label")}: needs choices.label to say where each choice's label is");
        return definition;
    }

    /// <summary>
    /// A user's JSON Lines file, one question per line: <c>{"context": ..., "choices": [...], "gold": i}</c>. Each
    /// choice follows the context after one space (the harness's target delimiter); scored by acc and acc_norm.
    /// </summary>
    public static TaskDefinition ForJsonl(string path) => new()
    {
        Task = Path.GetFileNameWithoutExtension(path),
        Split = "user",
        Metric = "acc",
        DataFile = Path.GetFullPath(path),
        context = new TextTemplate("{context}", path),
        choiceArray = new FieldPath("choices"),
        goldField = new FieldPath("gold"),
    };

    /// <summary>The first <paramref name="limit"/> questions (all when null), checked and ready to score.</summary>
    public IReadOnlyList<MultipleChoiceItem> LoadItems(int? limit = null)
    {
        var records = format == "lines" ? TaskRecords.ReadLineGroups(DataFile, lineFields) : TaskRecords.ReadJsonl(DataFile);
        if (labelsFile is not null) TaskRecords.AttachLabels(records, labelsFile, labelsField);
        if (records.Count == 0) throw new UserError($"{DataFile}: no questions");
        return records.Take(limit ?? int.MaxValue).Select(ToItem).ToList();
    }

    MultipleChoiceItem ToItem(TaskRecord record)
    {
        var fields = record.Fields;
        string where = record.Where;
        List<LoglikelihoodRequest> requests;
        List<string> choices;
        IReadOnlyList<string>? labels = null;
        if (partialSentence is not null)
        {
            // WinoGrande, as the harness's preprocess_winogrande: each option fills the blank in the context, and
            // the (shared) rest of the sentence is the continuation that is scored.
            string sentence = partialSentence.Render(fields, where);
            int at = sentence.IndexOf(blank, StringComparison.Ordinal);
            if (at < 0) throw new UserError($"{where}: sentence has no blank '{blank}'");
            string rest = delimiter + sentence[(at + blank.Length)..].Trim();
            choices = partialOptions!.Select(o => sentence[..at] + o.Render(fields, where)).ToList();
            requests = choices.Select(c => new LoglikelihoodRequest(c, rest)).ToList();
        }
        else
        {
            string ctx = context!.Render(fields, where);
            if (choiceTemplates is not null) choices = choiceTemplates.Select(t => t.Render(fields, where)).ToList();
            else
            {
                var elements = choiceArray!.Find(fields) as JsonArray
                    ?? throw new UserError($"{where}: field '{choiceArray}' missing or not an array");
                choices = elements.Select((e, i) => choiceText is null
                    ? FieldPath.Scalar(e, $"{where}: {choiceArray}[{i}]")
                    : choiceText.ReadText(e ?? new JsonObject(), $"{where}: {choiceArray}[{i}]")).ToList();
                if (choiceLabel is not null)
                    labels = elements.Select((e, i) => choiceLabel.ReadText(e ?? new JsonObject(), $"{where}: {choiceArray}[{i}]")).ToList();
            }
            requests = choices.Select(c => new LoglikelihoodRequest(ctx, delimiter + c)).ToList();
        }
        if (choices.Count < 2) throw new UserError($"{where}: {choices.Count} choice(s), a question needs at least 2");
        for (int i = 0; i < choices.Count; i++)
            if (choices[i].Length == 0) throw new UserError($"{where}: choice {i} is empty");
        return new MultipleChoiceItem(where, requests, choices, Gold(fields, where, labels, choices.Count));
    }

    int Gold(JsonObject fields, string where, IReadOnlyList<string>? labels, int count)
    {
        string value = goldField.ReadText(fields, where);
        int gold;
        if (goldMap is not null)
        {
            if (!goldMap.TryGetValue(value, out gold))
                throw new UserError($"{where}: {goldField} '{value}' is not one of {string.Join(", ", goldMap.Keys)}");
        }
        else if (goldIsChoiceLabel)
        {
            gold = labels!.ToList().IndexOf(value);
            if (gold < 0) throw new UserError($"{where}: {goldField} '{value}' is not a choice label ({string.Join(", ", labels!)})");
        }
        else if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out gold))
            throw new UserError($"{where}: {goldField} '{value}' is not a choice index");
        if (gold < 0 || gold >= count)
            throw new UserError($"{where}: {goldField} {gold} is out of range for {count} choices");
        return gold;
    }
}

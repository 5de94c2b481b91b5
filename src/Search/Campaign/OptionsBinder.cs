using System.Globalization;
using System.Reflection;
using System.Text.Json;
using NasPrune.Common;
using NasPrune.Predictor;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace NasPrune.Search.Campaign;

/// <summary>
/// Binds a YAML (or JSON) document onto an options object graph, checking every key, type and enumeration value
/// before any work starts. Keys are the snake_case names of the options records' properties, so the records are the
/// one source of their defaults and a file names only what it changes. Every mistake is one line naming the file,
/// the line and the dotted key; an unknown key also names the nearest valid one.
/// </summary>
public static class OptionsBinder
{
    /// <param name="derivedKeys">Dotted keys the caller computes itself (e.g. per-round seeds): refused with <paramref name="derivedWhy"/>.</param>
    public static T Bind<T>(string source, string text, IReadOnlyDictionary<string, string> derivedKeys) where T : new()
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(text)); }
        catch (YamlException e)
        {
            throw new UserError($"{source}:{e.Start.Line}: {(e.InnerException?.Message ?? e.Message).Split('\n')[0]}");
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" }) return new T();
        return (T)BindObject(typeof(T), stream.Documents[0].RootNode, "", source, derivedKeys);
    }

    static object BindObject(Type type, YamlNode node, string prefix, string source, IReadOnlyDictionary<string, string> derived)
    {
        if (node is not YamlMappingNode map) throw Error(source, node, prefix.TrimEnd('.'), "expected a mapping of keys");
        object target = Create(type);
        var properties = Settable(type);
        foreach (var (keyNode, valueNode) in map.Children)
        {
            string key = ((YamlScalarNode)keyNode).Value ?? "";
            string dotted = prefix + key;
            if (!properties.TryGetValue(key, out var property))
                throw Error(source, keyNode, dotted, $"unknown key (did you mean '{prefix}{Nearest(key, properties.Keys)}'?)");
            if (derived.TryGetValue(dotted, out string? why)) throw Error(source, keyNode, dotted, why);
            property.SetValue(target, BindValue(property.PropertyType, valueNode, dotted, source, derived));
        }
        return target;
    }

    static object? BindValue(Type type, YamlNode node, string key, string source, IReadOnlyDictionary<string, string> derived)
    {
        var nullable = Nullable.GetUnderlyingType(type);
        bool isNull = node is YamlScalarNode { Value: null or "" or "~" or "null" } s0 && s0.Style == YamlDotNet.Core.ScalarStyle.Plain;
        if (isNull)
        {
            if (nullable is not null || !type.IsValueType) return null;
            throw Error(source, node, key, $"needs a value ({Describe(type)})");
        }
        type = nullable ?? type;
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>))
        {
            var element = type.GetGenericArguments()[0];
            var list = (System.Collections.IList)Activator.CreateInstance(type)!;
            if (node is YamlSequenceNode seq) foreach (var item in seq.Children) list.Add(BindValue(element, item, key, source, derived));
            else list.Add(BindValue(element, node, key, source, derived));
            return list;
        }
        if (type.IsClass && type != typeof(string)) return BindObject(type, node, key + ".", source, derived);
        if (node is not YamlScalarNode scalar) throw Error(source, node, key, $"expected {Describe(type)}");
        string value = scalar.Value!;
        var inv = CultureInfo.InvariantCulture;
        object? parsed = type switch
        {
            _ when type == typeof(string) => value,
            _ when type == typeof(int) => int.TryParse(value, NumberStyles.AllowLeadingSign, inv, out int i) ? i : null,
            _ when type == typeof(long) => long.TryParse(value, NumberStyles.AllowLeadingSign, inv, out long l) ? l : null,
            _ when type == typeof(double) => double.TryParse(value, NumberStyles.Float, inv, out double d) && double.IsFinite(d) ? d : null,
            _ when type == typeof(bool) => value switch { "true" or "True" => true, "false" or "False" => false, _ => null },
            _ when type.IsEnum => Enum.GetNames(type).FirstOrDefault(n => EnumKey(n) == value.ToLowerInvariant().Replace('-', '_')) is { } n ? Enum.Parse(type, n) : null,
            _ => throw new InvalidOperationException($"options type {type} is not bindable"),
        };
        return parsed ?? throw Error(source, node, key, $"'{value}' is not {Describe(type)}");
    }

    static string Describe(Type type) => type switch
    {
        _ when type == typeof(int) || type == typeof(long) => "an integer",
        _ when type == typeof(double) => "a number",
        _ when type == typeof(bool) => "true or false",
        _ when type == typeof(PredictorTarget) => "one of " + PredictorTargets.Names,
        _ when type.IsEnum => "one of " + string.Join(", ", Enum.GetNames(type).Select(EnumKey)),
        _ => "a value",
    };

    static string EnumKey(string name) => JsonNamingPolicy.SnakeCaseLower.ConvertName(name);

    /// <summary>Public properties with a setter (init included), by their snake_case key.</summary>
    public static Dictionary<string, PropertyInfo> Settable(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod is { IsPublic: true } && p.GetIndexParameters().Length == 0)
            .ToDictionary(p => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name));

    /// <summary>A parameterless constructor, or a positional record's constructor with every parameter at its default.</summary>
    static object Create(Type type)
    {
        if (type.GetConstructor(Type.EmptyTypes) is { } plain) return plain.Invoke([]);
        var ctor = type.GetConstructors().Single(c => c.GetParameters().All(p => p.HasDefaultValue));
        return ctor.Invoke(ctor.GetParameters().Select(p => p.DefaultValue).ToArray());
    }

    static UserError Error(string source, YamlNode node, string key, string why) => new($"{source}:{node.Start.Line}: {key}: {why}");

    /// <summary>
    /// The valid key a mistaken one most likely meant: the shortest that contains it (a shortened name, e.g. "trees" for
    /// "number_of_trees"), else the one with the smallest edit distance (a typo).
    /// </summary>
    public static string Nearest(string key, IEnumerable<string> candidates)
    {
        var all = candidates.ToList();
        return all.Where(c => c.Contains(key, StringComparison.Ordinal)).MinBy(c => c.Length)
            ?? all.MinBy(c => EditDistance(key, c)) ?? "";
    }

    static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }

    /// <summary>
    /// The object graph as nested key → value maps (enumerations by their key names), leaving out
    /// <paramref name="derivedKeys"/>: what <see cref="Bind{T}"/> reads back to an equal graph.
    /// </summary>
    public static Dictionary<string, object?> ToMap(object value, IReadOnlyDictionary<string, string> derivedKeys, string prefix = "")
    {
        var map = new Dictionary<string, object?>();
        foreach (var (key, property) in Settable(value.GetType()))
        {
            if (derivedKeys.ContainsKey(prefix + key)) continue;
            object? v = property.GetValue(value);
            map[key] = v switch
            {
                null => null,
                string or int or long or double or bool => v,
                PredictorTarget t => t.Name(),
                Enum e => EnumKey(e.ToString()),
                System.Collections.IList list => list.Cast<object>().ToList(),
                _ => ToMap(v, derivedKeys, prefix + key + "."),
            };
        }
        return map;
    }
}

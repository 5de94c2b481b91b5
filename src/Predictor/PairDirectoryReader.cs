using NasPrune.Common;
using NasPrune.Common.Pairs;

namespace NasPrune.Predictor;

/// <summary>What the predictor learns from, read from a pairs directory: the pairs and the importance profile beside them.</summary>
public static class PairDirectoryReader
{
    /// <summary>Reads pairs and the profile beside them, checking the base model's hash against the pairs.</summary>
    public static (PairSet Pairs, ImportanceProfile? Profile) ReadPairs(string pairsDir, ModelConfig config, string modelHash, string modelDir)
    {
        var pairs = new PairSet(PairStore.ReadAll(pairsDir), config, pairsDir);
        if (pairs.BaseModel != modelHash)
            throw new UserError($"{pairsDir}: pairs are of base model {pairs.BaseModel}, but {modelDir} has hash {modelHash} (pass its --model)");
        return (pairs, ReadProfile(pairsDir, pairs.BaseModel));
    }

    /// <summary>The importance profile saved beside a pairs directory (null when absent), checked against the pairs' base model.</summary>
    public static ImportanceProfile? ReadProfile(string pairsDir, string baseModel)
    {
        string path = Path.Combine(pairsDir, ImportanceProfile.FileName);
        if (!File.Exists(path)) return null;
        var profile = ImportanceProfile.Load(path);
        if (profile.ModelHash != baseModel) throw new UserError($"{path}: profile of model {profile.ModelHash}, the pairs are of {baseModel}");
        return profile;
    }
}

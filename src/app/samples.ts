/** The sample photos shipped in public/samples/, and the one that runs by itself on a first visit. */
export const SAMPLES = [
  { id: 'astronaut', file: 'samples/astronaut.jpg', alt: 'Astronaut Eileen Collins (NASA portrait)' },
  { id: 'chelsea', file: 'samples/chelsea.jpg', alt: 'Chelsea the cat' },
  { id: 'coffee', file: 'samples/coffee.jpg', alt: 'A cup of coffee' },
  { id: 'rocket', file: 'samples/rocket.jpg', alt: 'A SpaceX rocket launch' },
] as const;

/** The first visit's photo: named apart from a dropped chelsea.jpg, so either can be told from the other. */
export const FIRST_SAMPLE = { file: 'samples/chelsea.jpg', name: 'chelsea (sample).jpg' } as const;
